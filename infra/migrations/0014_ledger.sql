-- The double-entry ledger (DESIGN.md "Money"): accounts, journal entries and their lines.
-- Every money event is one entry of at least two lines, each a positive amount in cents on one
-- side; an entry's debits equal its credits. PostgreSQL itself enforces that at COMMIT, keeps
-- entries and lines immutable (a correction is a new entry) and refuses a line added to an
-- entry by any transaction but the one that created it. Balances are read from the lines only.

-- One row per (kind, owner). The per-owner kinds name their client, payer or provider; the
-- platform's own accounts have no owner. The owner reaches its table through a generated
-- column per owner table, so a foreign key still refuses an account for nobody.
CREATE TABLE ledger_accounts (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         TEXT NOT NULL CONSTRAINT ledger_accounts_kind CHECK (kind IN (
                     'client_receivable', 'payer_receivable', 'provider_payable',
                     'payouts_in_transit', 'stripe_balance', 'payer_clearing', 'bank',
                     'platform_revenue', 'provider_rate_subsidy', 'contractual_adjustment',
                     'claim_losses', 'processing_fees', 'interest_income', 'unapplied_cash',
                     'bad_debt')),
    owner_id     UUID,
    client_id    UUID GENERATED ALWAYS AS
                     (CASE WHEN kind = 'client_receivable' THEN owner_id END) STORED
                     REFERENCES clients (id),
    payer_id     UUID GENERATED ALWAYS AS
                     (CASE WHEN kind = 'payer_receivable' THEN owner_id END) STORED
                     REFERENCES payers (id),
    provider_id  UUID GENERATED ALWAYS AS
                     (CASE WHEN kind = 'provider_payable' THEN owner_id END) STORED
                     REFERENCES providers (id),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT ledger_accounts_owner CHECK (
        (owner_id IS NOT NULL)
        = (kind IN ('client_receivable', 'payer_receivable', 'provider_payable'))),
    -- NULLS NOT DISTINCT: one stripe_balance, not one per insert. Owner first: an owner's
    -- accounts are a prefix scan.
    CONSTRAINT ledger_accounts_one_per_owner UNIQUE NULLS NOT DISTINCT (owner_id, kind)
);

-- `kind` is the event; later migrations replace the named CHECK to add events.
-- The idempotency key makes an event post once, ever: a repeat finds the first entry.
CREATE TABLE journal_entries (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             TEXT NOT NULL CONSTRAINT journal_entries_kind CHECK (kind IN (
                         'completion', 'card_captured', 'claim_remitted',
                         'provider_adjustment', 'unmatched_remittance', 'eft_received',
                         'refund', 'refund_failed', 'dispute_opened', 'dispute_won',
                         'bad_debt', 'recoupment', 'payout_frozen', 'payout_transferred',
                         'transfer_reversed', 'top_up')),
    idempotency_key  TEXT NOT NULL UNIQUE CHECK (idempotency_key ~ '^[!-~]{1,200}$'),
    occurred_at      TIMESTAMPTZ NOT NULL,  -- the event's time, from the application's clock
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    memo             TEXT NOT NULL DEFAULT '' CHECK (length(memo) <= 500),  -- never PHI
    -- What caused it: a row of another domain (a session, a charge, a payout ...).
    source_table     TEXT NOT NULL CHECK (source_table ~ '^[a-z][a-z0-9_]{0,62}$'),
    source_id        UUID NOT NULL,
    -- The creating transaction (set by a trigger, whatever the INSERT says): lines may be
    -- added only by it. Top-level id, so a savepoint in between does not matter.
    created_xact     XID8 NOT NULL
);
CREATE INDEX journal_entries_source ON journal_entries (source_table, source_id);

CREATE TABLE journal_lines (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entry_id      BIGINT NOT NULL REFERENCES journal_entries (id),
    account_id    BIGINT NOT NULL REFERENCES ledger_accounts (id),
    side          TEXT NOT NULL CHECK (side IN ('debit', 'credit')),
    amount_cents  BIGINT NOT NULL CHECK (amount_cents > 0),
    -- payer_receivable is tracked per claim. No foreign key yet: the claims table comes with
    -- the claims work, whose migration adds it.
    claim_id      UUID
);
CREATE INDEX journal_lines_entry ON journal_lines (entry_id);
-- An account's balance, an owner's balances and a claim's balance are index-only sums.
CREATE INDEX journal_lines_account ON journal_lines (account_id) INCLUDE (side, amount_cents);
CREATE INDEX journal_lines_claim ON journal_lines (claim_id, account_id)
    INCLUDE (side, amount_cents) WHERE claim_id IS NOT NULL;

CREATE FUNCTION journal_entries_stamp_xact() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.created_xact := pg_current_xact_id();
    RETURN NEW;
END
$$;
CREATE TRIGGER journal_entries_stamp_xact BEFORE INSERT ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION journal_entries_stamp_xact();

CREATE FUNCTION journal_lines_same_xact() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    created XID8;
BEGIN
    SELECT created_xact INTO created FROM journal_entries WHERE id = NEW.entry_id;
    -- Not found: no such entry, which the foreign key refuses (also one committed after a
    -- REPEATABLE READ snapshot: not present to it), or one this same statement inserts (a
    -- data-modifying WITH), so this transaction's own.
    IF FOUND AND created <> pg_current_xact_id() THEN
        RAISE EXCEPTION 'journal entry % is closed: lines are added only by the transaction '
            'that created it; post a new entry', NEW.entry_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER journal_lines_same_xact BEFORE INSERT ON journal_lines
    FOR EACH ROW EXECUTE FUNCTION journal_lines_same_xact();

-- At COMMIT: each entry inserted, and each entry a line was added to, has at least two lines
-- and balances. The trigger on lines catches a line added after an early check
-- (SET CONSTRAINTS ... IMMEDIATE); the one on entries catches an entry left with no line.
CREATE FUNCTION journal_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    entry    BIGINT;
    lines    BIGINT;
    debits   NUMERIC;
    credits  NUMERIC;
BEGIN
    IF TG_TABLE_NAME = 'journal_entries' THEN
        entry := NEW.id;
    ELSE
        entry := NEW.entry_id;
    END IF;
    SELECT count(*),
           coalesce(sum(amount_cents) FILTER (WHERE side = 'debit'), 0),
           coalesce(sum(amount_cents) FILTER (WHERE side = 'credit'), 0)
    INTO lines, debits, credits
    FROM journal_lines WHERE entry_id = entry;
    IF lines < 2 THEN
        RAISE EXCEPTION 'journal entry % has % line(s); an entry has at least two', entry, lines
            USING ERRCODE = 'check_violation', CONSTRAINT = 'journal_entry_lines';
    END IF;
    IF debits <> credits THEN
        RAISE EXCEPTION 'journal entry % does not balance: debits % cents, credits % cents',
            entry, debits, credits
            USING ERRCODE = 'check_violation', CONSTRAINT = 'journal_entry_balanced';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER journal_entries_balanced AFTER INSERT ON journal_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION journal_entry_balanced();
CREATE CONSTRAINT TRIGGER journal_lines_balanced AFTER INSERT ON journal_lines
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION journal_entry_balanced();

-- Accounts, entries and lines are history: UPDATE, DELETE and TRUNCATE are refused.
CREATE FUNCTION ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is immutable (% refused); corrections are new journal entries',
        TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER ledger_accounts_immutable BEFORE UPDATE OR DELETE ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER ledger_accounts_no_truncate BEFORE TRUNCATE ON ledger_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER journal_entries_immutable BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER journal_lines_immutable BEFORE UPDATE OR DELETE ON journal_lines
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER journal_lines_no_truncate BEFORE TRUNCATE ON journal_lines
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();
