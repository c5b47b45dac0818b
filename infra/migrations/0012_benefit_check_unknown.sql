-- A 271 whose lines say nothing about coverage for MH or 30 (no EB01 1-8: only R, L, MC, B...)
-- is stored as 'unknown': never reported as active or inactive; the estimate says to call the
-- payer. Like 0008, the constraint is replaced in this migration's one transaction.
ALTER TABLE benefit_checks DROP CONSTRAINT benefit_checks_status_check;
ALTER TABLE benefit_checks ADD CONSTRAINT benefit_checks_status_check
    CHECK (status IN ('active', 'inactive', 'rejected', 'unknown', 'retry'));
