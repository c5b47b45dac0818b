-- Who carries a loss (issue 16 item 4; DESIGN.md "Who carries a loss"): per CARC (group and
-- code), whether a denial's or reversal's loss is recouped from the provider's payable or
-- absorbed by the platform. A `condition` is one of a closed set of facts evaluated by code
-- (services/remittance/recoupment.py): the row recoups when the condition holds and absorbs
-- when it does not, so a condition only ever names when the provider was at fault. CARC 45
-- (charge over the fee schedule) is never a loss, so it has no row. A CARC with no row is
-- absorbed and flagged to ops.
CREATE TABLE recoupment_policies (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    carc_group   TEXT NOT NULL CHECK (carc_group IN ('CO', 'PI', 'OA', 'PR')),
    -- CARCs are 1 to 3 digits (no leading zero) or a letter and one or two digits (B7, P14).
    carc_code    TEXT NOT NULL CHECK (carc_code ~ '^([1-9][0-9]{0,2}|[A-Z][0-9]{1,2})$'),
    decision     TEXT NOT NULL CHECK (decision IN ('recoup', 'absorb')),
    condition    TEXT CHECK (condition IN ('no_authorization_recorded', 'confirmed_late',
                                           'licence_lapsed')),
    -- The reason in plain words, as a provider's statement shows it.
    description  TEXT NOT NULL CHECK (length(description) BETWEEN 1 AND 200),
    -- Seeded from DESIGN.md: ops may change such a row but not delete it.
    is_default   BOOLEAN NOT NULL DEFAULT false,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    updated_by   UUID REFERENCES users (id),  -- NULL: as this migration seeded it
    CONSTRAINT recoupment_policies_condition_recoups CHECK (condition IS NULL OR decision = 'recoup'),
    CONSTRAINT recoupment_policies_45_is_no_loss CHECK (carc_code <> '45'),
    UNIQUE (carc_group, carc_code)
);
CREATE INDEX recoupment_policies_created ON recoupment_policies (created_at, id);

-- Every change ops make (who, when, the row before and after). No foreign key to the policy:
-- a deleted policy keeps its history.
CREATE TABLE recoupment_policy_changes (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    policy_id   UUID NOT NULL,
    carc_group  TEXT NOT NULL,
    carc_code   TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete')),
    before      JSONB,  -- {decision, condition, description}; NULL on create
    after       JSONB,  -- NULL on delete
    changed_by  UUID NOT NULL REFERENCES users (id),
    request_id  TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),  -- when it changed
    CONSTRAINT recoupment_policy_changes_before CHECK ((action = 'create') = (before IS NULL)),
    CONSTRAINT recoupment_policy_changes_after CHECK ((action = 'delete') = (after IS NULL))
);
CREATE INDEX recoupment_policy_changes_policy ON recoupment_policy_changes (policy_id, created_at, id);

-- The history is evidence of who changed who pays: corrections are new changes.
CREATE FUNCTION recoupment_policy_changes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'recoupment_policy_changes is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER recoupment_policy_changes_no_update
    BEFORE UPDATE OR DELETE ON recoupment_policy_changes
    FOR EACH ROW EXECUTE FUNCTION recoupment_policy_changes_append_only();
CREATE TRIGGER recoupment_policy_changes_no_truncate BEFORE TRUNCATE ON recoupment_policy_changes
    FOR EACH STATEMENT EXECUTE FUNCTION recoupment_policy_changes_append_only();

-- DESIGN.md's defaults: recoup when the provider was at fault, absorb otherwise.
INSERT INTO recoupment_policies (carc_group, carc_code, decision, condition, description, is_default)
VALUES
    ('CO', '50', 'recoup', NULL, 'the payer found the service not medically necessary', true),
    ('CO', '15', 'recoup', 'no_authorization_recorded',
     'the authorization number was missing, invalid or not for this service or provider', true),
    ('CO', '197', 'recoup', 'no_authorization_recorded',
     'the service needed a prior authorization that was absent', true),
    ('CO', '198', 'recoup', 'no_authorization_recorded',
     'the service exceeded its prior authorization', true),
    ('CO', '29', 'recoup', 'confirmed_late', 'the payer''s time limit for filing had expired', true),
    ('CO', '16', 'absorb', NULL,
     'the claim lacked information or had a billing error; the platform corrects and resubmits it',
     true),
    ('CO', 'B7', 'recoup', 'licence_lapsed',
     'the provider was not certified or eligible to be paid for this service on this date', true),
    ('CO', '185', 'recoup', 'licence_lapsed',
     'the rendering provider was not eligible to perform the service billed', true),
    ('CO', '22', 'absorb', NULL, 'another payer may cover this care (coordination of benefits)',
     true),
    ('OA', '23', 'absorb', NULL, 'a prior payer''s adjudication (coordination of benefits)', true);
