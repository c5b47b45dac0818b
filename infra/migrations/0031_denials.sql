-- The denial work queue and appeals (issue 16 item 5; DESIGN.md "Denial", "Timely filing",
-- "Edit window and submission timing"). A denial instance is a remitted claim the 835 denied
-- (outcome denied, or partially_paid with a loss: a line denied inside a paid claim) that
-- stands (not reversed). Ops resolve it once: resubmit (a replacement, frequency 7), void
-- (frequency 8), write off (the loss booked at posting stays) or appeal. The resolution row is
-- UNIQUE per remitted claim: the last line against a second action.

-- How long after the 835's payment date the payer hears an appeal (ops may set it per payer;
-- an appeal may also carry the deadline the payer gave explicitly).
ALTER TABLE payers ADD COLUMN appeal_window_days INTEGER NOT NULL DEFAULT 180
    CHECK (appeal_window_days BETWEEN 1 AND 3650);

CREATE TABLE claim_appeals (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    claim_id           UUID NOT NULL REFERENCES claims (id),
    remitted_claim_id  UUID NOT NULL UNIQUE REFERENCES remitted_claims (id),
    deadline           DATE NOT NULL,
    deadline_source    TEXT NOT NULL CHECK (deadline_source IN ('payer_window', 'ops')),
    --   open -> submitted -> won | lost | withdrawn;  open -> withdrawn
    status             TEXT NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'submitted', 'won', 'lost', 'withdrawn')),
    created_at         TIMESTAMPTZ NOT NULL,
    created_by         UUID NOT NULL REFERENCES users (id),
    updated_at         TIMESTAMPTZ NOT NULL,
    updated_by         UUID NOT NULL REFERENCES users (id),
    submitted_at       TIMESTAMPTZ,
    submitted_by       UUID REFERENCES users (id),
    closed_at          TIMESTAMPTZ,
    closed_by          UUID REFERENCES users (id),
    CONSTRAINT claim_appeals_submitted CHECK (
        (submitted_at IS NULL) = (submitted_by IS NULL)
        AND (status <> 'submitted' OR submitted_at IS NOT NULL)
        AND (status NOT IN ('won', 'lost') OR submitted_at IS NOT NULL)),
    CONSTRAINT claim_appeals_closed CHECK (
        (closed_at IS NULL) = (closed_by IS NULL)
        AND (status IN ('won', 'lost', 'withdrawn')) = (closed_at IS NOT NULL))
);
-- GET /appeals: by deadline, optionally one status.
CREATE INDEX claim_appeals_deadline ON claim_appeals (deadline, id);
CREATE INDEX claim_appeals_status ON claim_appeals (status, deadline, id);

-- Append-only: a note, or a status change with the note that came with it.
CREATE TABLE claim_appeal_notes (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    appeal_id    UUID NOT NULL REFERENCES claim_appeals (id),
    kind         TEXT NOT NULL CHECK (kind IN ('note', 'status')),
    from_status  TEXT,
    to_status    TEXT,
    body         TEXT CHECK (length(body) BETWEEN 1 AND 2000),
    author_id    UUID NOT NULL REFERENCES users (id),
    at           TIMESTAMPTZ NOT NULL,
    CONSTRAINT claim_appeal_notes_kind CHECK (
        (kind = 'note' AND body IS NOT NULL AND to_status IS NULL)
        OR (kind = 'status' AND to_status IS NOT NULL))
);
CREATE INDEX claim_appeal_notes_appeal ON claim_appeal_notes (appeal_id, id);

CREATE FUNCTION claim_appeal_notes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'claim_appeal_notes is append-only';
END;
$$;
CREATE TRIGGER claim_appeal_notes_append_only BEFORE UPDATE OR DELETE ON claim_appeal_notes
    FOR EACH ROW EXECUTE FUNCTION claim_appeal_notes_append_only();

CREATE TABLE denial_resolutions (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    remitted_claim_id  UUID NOT NULL UNIQUE REFERENCES remitted_claims (id),
    claim_id           UUID NOT NULL REFERENCES claims (id),
    action             TEXT NOT NULL
        CHECK (action IN ('resubmitted', 'voided', 'written_off', 'appealed')),
    note               TEXT NOT NULL CHECK (length(note) BETWEEN 1 AND 2000),
    -- What the action made: the correction's claim version, or the appeal.
    submission_id      UUID REFERENCES claim_submissions (id),
    appeal_id          UUID UNIQUE REFERENCES claim_appeals (id),
    resolved_by        UUID NOT NULL REFERENCES users (id),
    resolved_at        TIMESTAMPTZ NOT NULL,
    CONSTRAINT denial_resolutions_made CHECK (
        (action IN ('resubmitted', 'voided')) = (submission_id IS NOT NULL)
        AND (action = 'appealed') = (appeal_id IS NOT NULL))
);

-- The queue scans the denials among remitted claims only.
CREATE INDEX remitted_claims_denials ON remitted_claims (claim_id)
    WHERE outcome IN ('denied', 'partially_paid') AND reversal_of IS NULL;
