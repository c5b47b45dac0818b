-- Timely filing (issue 15 item 7): a claim's filing deadline is its service date plus its
-- payer's timely_filing_days (read live, so a corrected payer window applies at once). The
-- daily job flags a claim not yet accepted once its deadline is inside the warning window,
-- once: filing_flagged_at is when. A rejection does not stop the clock, so a rejected claim
-- stays flagged; a payer's acceptance (a history row to 'accepted') takes it off the queue.
-- The proof of timely filing, the payer's 277CA acceptance date, is kept per claim version by
-- the submission slice's migration (0019), so this one adds no proof column.
ALTER TABLE claims ADD COLUMN filing_flagged_at TIMESTAMPTZ;

-- What the daily job scans: claims never flagged.
CREATE INDEX claims_filing_unflagged ON claims (service_date) WHERE filing_flagged_at IS NULL;
-- The filing-deadline queue scans flagged claims only.
CREATE INDEX claims_filing_flagged ON claims (service_date, id)
    WHERE filing_flagged_at IS NOT NULL;
-- The rejected-claims queue and the history reads by status.
CREATE INDEX claim_status_history_to_status ON claim_status_history (claim_id, to_status, id);
