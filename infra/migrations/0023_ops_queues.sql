-- Ops work queues (issue 15 items 5 and 9; DESIGN.md "Money" and "Acknowledgements").
--
-- Claims: a flag for ops says what raised it (ops_kind), since when, and the claim version it
-- concerns, so the code that sees the condition end clears exactly the flag that condition
-- raised, and nothing else. Older flags (0019 kept only a reason) become kind 'other'. Raising,
-- clearing and an ops resolution are rows of the claim's history with no status change:
-- to_status is NULL and ops_event says which, so every read of the history by to_status keeps
-- seeing status changes only.
ALTER TABLE claims
    ADD COLUMN ops_kind           TEXT CHECK (ops_kind IN (
        'unsendable', 'envelope_refused', 'no_999', 'no_277ca', 'ack_unreadable',
        'ack_unexpected', 'claim_unnamed', 'code_undecided', 'other')),
    ADD COLUMN ops_since          TIMESTAMPTZ,
    ADD COLUMN ops_submission_id  UUID REFERENCES claim_submissions (id);
UPDATE claims SET ops_kind = 'other', ops_since = updated_at WHERE needs_ops;
ALTER TABLE claims ADD CONSTRAINT claims_ops_flag
    CHECK (NOT needs_ops OR (ops_kind IS NOT NULL AND ops_since IS NOT NULL));
-- The needs-ops queue: flagged claims, longest waiting first.
DROP INDEX claims_needs_ops;
CREATE INDEX claims_needs_ops ON claims (ops_since, id) WHERE needs_ops;

ALTER TABLE claim_status_history
    ALTER COLUMN to_status DROP NOT NULL,
    ADD COLUMN ops_event TEXT CHECK (ops_event IN ('flagged', 'cleared', 'resolved')),
    ADD CONSTRAINT claim_status_history_event
        CHECK ((ops_event IS NULL) = (to_status IS NOT NULL));

-- Therapy sessions: a carve-out or coverage the benefit check cannot state confirms the
-- session with no claim and no journal entry, on hold for ops (the coverage queue). The hold
-- keeps the check it was decided on and the UTC offset the provider gave started_at (the date
-- of service is the start's date where the session took place: billing it later needs it).
-- Ops settle it once: billed (after a new check, as completion would have), self_pay (the
-- completion's self-pay entry) or written_off (nothing booked); a reason for the last two.
ALTER TABLE therapy_sessions
    ADD COLUMN billing_hold                TEXT CHECK (billing_hold IN ('carve_out', 'unknown')),
    ADD COLUMN billing_hold_at             TIMESTAMPTZ,
    ADD COLUMN billing_hold_check_id       UUID REFERENCES benefit_checks (id),
    ADD COLUMN billing_hold_offset_minutes SMALLINT
        CHECK (billing_hold_offset_minutes BETWEEN -1439 AND 1439),
    ADD COLUMN billing_settlement          TEXT
        CHECK (billing_settlement IN ('billed', 'self_pay', 'written_off')),
    ADD COLUMN billing_settled_at          TIMESTAMPTZ,
    ADD COLUMN billing_settled_by          UUID REFERENCES users (id),
    ADD COLUMN billing_settlement_reason   TEXT
        CHECK (length(billing_settlement_reason) BETWEEN 1 AND 500),
    ADD CONSTRAINT therapy_sessions_billing_hold CHECK (
        billing_hold IS NULL
        OR (status = 'confirmed' AND billing_hold_at IS NOT NULL
            AND billing_hold_offset_minutes IS NOT NULL)),
    ADD CONSTRAINT therapy_sessions_billing_settlement CHECK (
        billing_settlement IS NULL
        OR (billing_hold IS NOT NULL AND billing_settled_at IS NOT NULL
            AND billing_settled_by IS NOT NULL
            AND (billing_settlement = 'billed' OR billing_settlement_reason IS NOT NULL)));
-- The coverage queue: held sessions not settled, longest waiting first.
CREATE INDEX therapy_sessions_billing_hold ON therapy_sessions (billing_hold_at, id)
    WHERE billing_hold IS NOT NULL AND billing_settlement IS NULL;
