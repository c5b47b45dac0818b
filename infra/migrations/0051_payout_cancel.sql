-- Ops cancel a payout that never reached Stripe (issue 18 item 5; POST /payouts/{id}/cancel): a
-- failed payout, or a held one, whose transfer group Stripe was asked about first and holds no
-- transfer. Its money leaves payouts_in_transit by a new entry (Dr payouts_in_transit, Cr
-- provider_payable: `payout_cancelled`), so the provider is owed it again and a later payout
-- pays it, as one adjustment line covering that entry.
--
-- The cancelled payout keeps its lines: payout_lines are frozen with their payout, and an entry
-- is covered by at most one payout ever (the payout run's UNIQUE (provider_id, entry_id)); what
-- is paid again is the cancellation's own entry, which no other payout can cover twice. So a
-- cancel frees the money, never the lines, and the database still refuses an entry in two
-- payouts.
ALTER TABLE payouts DROP CONSTRAINT payouts_status_check;
ALTER TABLE payouts ADD CONSTRAINT payouts_status_check CHECK (status IN
    ('pending', 'submitting', 'paid', 'held', 'failed', 'cancelled'));
ALTER TABLE payouts
    ADD COLUMN cancel_reason TEXT CHECK (length(cancel_reason) BETWEEN 1 AND 500),
    ADD COLUMN cancelled_at TIMESTAMPTZ,
    -- Cancelled, with its reason and time, only while no transfer is known: a payout with a
    -- Stripe transfer is never cancelled, and a cancelled one never records one.
    ADD CONSTRAINT payouts_cancelled CHECK (
        (status = 'cancelled') = (cancelled_at IS NOT NULL)
        AND (status <> 'cancelled' OR (cancel_reason IS NOT NULL AND stripe_transfer_id IS NULL)));

-- Cancelled is final: nothing moves a cancelled payout back to a state the transfer job sends.
CREATE FUNCTION payouts_cancelled_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'payout % is cancelled (its status stays cancelled)', OLD.id
        USING ERRCODE = 'check_violation';
END
$$;
CREATE TRIGGER payouts_cancelled_final BEFORE UPDATE ON payouts
    FOR EACH ROW WHEN (OLD.status = 'cancelled' AND NEW.status IS DISTINCT FROM 'cancelled')
    EXECUTE FUNCTION payouts_cancelled_final();

ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_kind;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_kind CHECK (kind IN (
    'completion', 'completion_edited', 'card_captured', 'claim_remitted',
    'provider_adjustment', 'unmatched_remittance', 'eft_received',
    'refund', 'refund_failed', 'dispute_opened', 'dispute_won',
    'bad_debt', 'recoupment', 'payout_frozen', 'payout_transferred',
    'transfer_reversed', 'top_up', 'claim_corrected', 'claim_voided', 'true_up_carried',
    'payout_cancelled'));
