-- Refused 835 files ops settle, and reversals still waiting for their correction (issue 16
-- items 2 and 3). A refusal the clearinghouse served (0029) keeps where the file broke (the
-- segment id and its position, ISA = 1; NULL when the file was not X12 at all or its ISA13
-- could not be read) and, once ops fixed it with the payer, who dismissed it, when and why.
-- A refusal is resolved once: the three resolution columns are set together, never undone.

ALTER TABLE remittance_fetch_refusals
    ADD COLUMN segment          TEXT CHECK (segment ~ '^[A-Z0-9]{2,3}$'),
    ADD COLUMN position         INTEGER CHECK (position > 0),
    ADD COLUMN resolved_by      UUID REFERENCES users (id),
    ADD COLUMN resolution_note  TEXT CHECK (length(resolution_note) BETWEEN 1 AND 500),
    ADD CONSTRAINT remittance_fetch_refusals_resolution CHECK (
        (resolved_at IS NULL) = (resolved_by IS NULL)
        AND (resolved_by IS NULL) = (resolution_note IS NULL));

-- The refusals list pages over every refusal by (received_at, id); the open ones keep 0029's
-- partial index.
CREATE INDEX remittance_fetch_refusals_page ON remittance_fetch_refusals (received_at, id);

-- The awaiting-correction queue starts from the reversals (CLP02 22) of each claim.
CREATE INDEX remitted_claims_reversals ON remitted_claims (claim_id) WHERE outcome = 'reversed';
