-- Reading a benefit check's raw 270/271 exposes every identifier of the exchange (member id,
-- dates of birth, NPIs), so it is recorded as its own action, not as an ordinary read.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_action_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_action_check
    CHECK (action IN ('read', 'read_x12', 'create', 'update', 'delete'));
