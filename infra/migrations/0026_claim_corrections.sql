-- Claim corrections (issue 15 item 6): a rejected claim corrected and resent (frequency 1), an
-- accepted one replaced (7) or voided (8). Each correction is a new claim_submissions version,
-- and the claim goes back to `ready` for the submission job; every move is a history row.
--   resend:      rejected -> ready -> submitted -> acknowledged -> accepted | rejected
--   replacement: accepted -> ready -> submitted -> acknowledged -> accepted | rejected
--   void:        accepted -> ready -> submitted -> acknowledged -> voided   | rejected
-- A replacement or void the payer rejected leaves the accepted original standing at the
-- payer: ops replace or void it again (the claim keeps the original's payer claim number).

ALTER TABLE claims DROP CONSTRAINT claims_status_check;
ALTER TABLE claims ADD CONSTRAINT claims_status_check
    CHECK (status IN ('ready', 'submitted', 'acknowledged', 'accepted', 'rejected', 'voided'));

-- When the void gave the prior authorization's visit back: once, whatever retries follow.
ALTER TABLE claims ADD COLUMN authorization_returned_at TIMESTAMPTZ;

-- At most one version of a claim waits to be sent: a correction is refused while another is
-- unsent (the claim's status says so too), and the submission job attaches that one version.
CREATE UNIQUE INDEX claim_submissions_one_unsent ON claim_submissions (claim_id)
    WHERE batch_id IS NULL;

-- The ledger's events for corrections: the difference a corrected claim makes (one entry per
-- version) and a void's reversal of the claim's net effect (one entry per claim).
ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_kind;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_kind CHECK (kind IN (
    'completion', 'completion_edited', 'card_captured', 'claim_remitted',
    'provider_adjustment', 'unmatched_remittance', 'eft_received',
    'refund', 'refund_failed', 'dispute_opened', 'dispute_won',
    'bad_debt', 'recoupment', 'payout_frozen', 'payout_transferred',
    'transfer_reversed', 'top_up', 'claim_corrected', 'claim_voided'));
