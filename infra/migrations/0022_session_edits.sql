-- The 48-hour edit window (issue 15 item 1, DESIGN.md "Edit window and submission timing"):
-- a confirmed session's coding may be edited while its claim is still `ready`. Each edit
-- counts: the count names the edit's ledger adjustment (`completion-edit-{session}-{n}`), so
-- a retried edit posts once and two edits post two entries.

ALTER TABLE therapy_sessions
    ADD COLUMN edit_count  INTEGER NOT NULL DEFAULT 0 CHECK (edit_count BETWEEN 0 AND 10000),
    ADD COLUMN edited_at   TIMESTAMPTZ,
    ADD COLUMN edited_by   UUID REFERENCES users (id),
    ADD CONSTRAINT therapy_sessions_edited_check CHECK (
        (edit_count = 0) = (edited_at IS NULL AND edited_by IS NULL));

-- The journal entry of an edit: the difference between what the completion (and earlier
-- edits) booked and what the edited session prices at.
ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_kind;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_kind CHECK (kind IN (
    'completion', 'completion_edited', 'card_captured', 'claim_remitted',
    'provider_adjustment', 'unmatched_remittance', 'eft_received',
    'refund', 'refund_failed', 'dispute_opened', 'dispute_won',
    'bad_debt', 'recoupment', 'payout_frozen', 'payout_transferred',
    'transfer_reversed', 'top_up'));
