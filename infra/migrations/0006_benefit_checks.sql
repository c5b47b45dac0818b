-- Benefit verification: every 270/271 exchange that got an answer, and the plans'
-- out-of-network allowed amounts that ops enter for estimates.

-- What a plan allows for a CPT code out of network (ops-entered; the 271 does not say).
CREATE TABLE payer_out_of_network_rates (
    payer_id      UUID NOT NULL REFERENCES payers (id),
    cpt_code      TEXT NOT NULL CHECK (cpt_code ~ '^([0-9]{4}[0-9A-Z]|[A-Z][0-9]{4})$'),
    allowed_cents BIGINT NOT NULL CHECK (allowed_cents BETWEEN 1 AND 100000000),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by    UUID NOT NULL REFERENCES users (id),
    PRIMARY KEY (payer_id, cpt_code)
);

-- One row per answered check. A check that got no answer (clearinghouse down) stores nothing:
-- a 270 is a question, not a money movement, so there is no intent to finish after a crash.
CREATE TABLE benefit_checks (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    policy_id     UUID NOT NULL,
    client_id     UUID NOT NULL,
    provider_id   UUID REFERENCES providers (id),  -- the information receiver; NULL: the platform
    service_date  DATE NOT NULL,
    trace         TEXT NOT NULL UNIQUE CHECK (trace ~ '^[A-Za-z0-9-]{1,50}$'),  -- our TRN02
    payload_id    UUID NOT NULL UNIQUE,  -- the CORE PayloadID, reused by every retry
    -- active / inactive: a usable answer; rejected: a final AAA; retry: a transient AAA (42, 80)
    status        TEXT NOT NULL CHECK (status IN ('active', 'inactive', 'rejected', 'retry')),
    benefits      JSONB NOT NULL,  -- schemas.eligibility.Benefits
    request_x12   TEXT NOT NULL,
    response_x12  TEXT NOT NULL,
    requested_by  UUID REFERENCES users (id),  -- NULL: the system (the re-check job)
    requested_at  TIMESTAMPTZ NOT NULL,
    completed_at  TIMESTAMPTZ NOT NULL,
    duration_ms   INTEGER NOT NULL CHECK (duration_ms >= 0),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    FOREIGN KEY (policy_id, client_id) REFERENCES insurance_policies (id, client_id)
);
CREATE INDEX benefit_checks_latest ON benefit_checks (policy_id, completed_at DESC);
CREATE INDEX benefit_checks_client ON benefit_checks (client_id, created_at DESC, id DESC);

-- X12 control numbers: unique and increasing across every file Hearth writes (ISA13 has nine
-- digits, GS06 and ST02 up to nine).
CREATE SEQUENCE x12_interchange_control START 1 MAXVALUE 999999999 CYCLE;
CREATE SEQUENCE x12_group_control START 1 MAXVALUE 999999999 CYCLE;
