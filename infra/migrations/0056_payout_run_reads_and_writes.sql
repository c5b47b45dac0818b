-- The payout run reads and writes less (issue 18's benchmark: 10,000 providers, 500,000
-- sessions' entries, against the bare SQL aggregate over the same ledger).
--
-- 1. A journal line's entry and account are checked once a statement, not by a foreign key's
--    query a row (two a line, each through SPI with a row lock: ~24 us a line, half the cost
--    of posting a payout's entry). What the keys kept, the statement's check keeps: each line
--    names an entry its statement can see (under REPEATABLE READ an entry committed after the
--    snapshot is not, as the key said) and an account that exists. Neither can go away later:
--    journal entries and ledger accounts can be neither changed, deleted nor truncated (0014),
--    and a line can be changed by no one. The check that an entry's lines come from the
--    transaction that created it (0054) is the same join, so it is one function.
ALTER TABLE journal_lines
    DROP CONSTRAINT journal_lines_entry_id_fkey,
    DROP CONSTRAINT journal_lines_account_id_fkey;

DROP TRIGGER journal_lines_same_xact ON journal_lines;
DROP FUNCTION journal_lines_same_xact();

CREATE FUNCTION journal_lines_checked() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    entry   BIGINT;
    missing BOOLEAN;
    account BIGINT;
BEGIN
    SELECT n.entry_id, e.id IS NULL INTO entry, missing
    FROM (SELECT DISTINCT entry_id FROM new_lines) n
    LEFT JOIN journal_entries e ON e.id = n.entry_id
    WHERE e.id IS NULL OR e.created_xact <> pg_current_xact_id()
    ORDER BY e.id IS NULL DESC, n.entry_id
    LIMIT 1;
    IF FOUND AND missing THEN
        RAISE EXCEPTION 'journal line of journal entry % that does not exist', entry
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'journal_lines_entry_id_fkey';
    ELSIF FOUND THEN
        RAISE EXCEPTION 'journal entry % is closed: lines are added only by the transaction '
            'that created it; post a new entry', entry
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT n.account_id INTO account
    FROM (SELECT DISTINCT account_id FROM new_lines) n
    WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.id = n.account_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal line of ledger account % that does not exist', account
            USING ERRCODE = 'foreign_key_violation',
                  CONSTRAINT = 'journal_lines_account_id_fkey';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER journal_lines_checked AFTER INSERT ON journal_lines
    REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION journal_lines_checked();

-- 2. An account's lines are read by the index alone, in entry order: the freeze reads each
--    due provider's provider_payable lines (entry, side, amount) and no longer visits a heap
--    page per line (each on its own page: lines are written in time order, many providers'
--    interleaved); in entry order they meet the provider's payout lines (below) in order.
--    Balances stay index-only sums. The entry's kind, source and date come with its key, so
--    the freeze's look-up of each line's entry is index-only too.
DROP INDEX journal_lines_account;
CREATE INDEX journal_lines_account ON journal_lines (account_id, entry_id)
    INCLUDE (side, amount_cents);
ALTER TABLE journal_entries
    DROP CONSTRAINT journal_entries_pkey,
    ADD CONSTRAINT journal_entries_pkey PRIMARY KEY (id)
        INCLUDE (kind, source_table, source_id, occurred_at);
-- Index-only reads need the visibility map set: the ledger is only ever appended to, so a
-- vacuum after every 1% of new rows (not the default 20%) keeps this week's lines and entries
-- readable from their indexes by the time they are paid.
ALTER TABLE journal_lines SET (autovacuum_vacuum_insert_scale_factor = 0.01);
ALTER TABLE journal_entries SET (autovacuum_vacuum_insert_scale_factor = 0.01);

-- 3. A payout line keeps what is its own: the payout, the provider, the entry it covers and
--    the amount it moved on the provider's payable. The entry's kind, source, memo and date
--    were copies of the journal entry's, which is immutable (0014): statements read them
--    from the entry, so nothing is lost. One index instead of two: the key (provider, entry)
--    holds the payout, and a payout's lines are read through its provider (one provider's
--    range of the key); the index by payout id alone took a random page a line.
DROP INDEX payout_lines_payout;
ALTER TABLE payout_lines
    DROP CONSTRAINT payout_lines_pkey,
    DROP COLUMN kind,
    DROP COLUMN source_table,
    DROP COLUMN source_id,
    DROP COLUMN reason,
    DROP COLUMN occurred_at,
    ADD CONSTRAINT payout_lines_pkey PRIMARY KEY (provider_id, entry_id) INCLUDE (payout_id);

-- 4. A journal entry's key and source table are checked with patterns PostgreSQL matches
--    cheaply: '^[!-~]{1,200}$' is compiled to an automaton with a state per repetition and
--    took ~35 us an entry (measured: 500 entries inserted in 23 ms with it, 5 ms without),
--    the ledger's costliest check on every posting. The same rules: 1 to 200 characters,
--    each printable ASCII without space; a lower-case name of at most 63.
ALTER TABLE journal_entries
    DROP CONSTRAINT journal_entries_idempotency_key_check,
    DROP CONSTRAINT journal_entries_source_table_check,
    ADD CONSTRAINT journal_entries_idempotency_key_check
        CHECK (length(idempotency_key) BETWEEN 1 AND 200 AND idempotency_key ~ '^[!-~]+$'),
    ADD CONSTRAINT journal_entries_source_table_check
        CHECK (length(source_table) <= 63 AND source_table ~ '^[a-z][a-z0-9_]*$');
