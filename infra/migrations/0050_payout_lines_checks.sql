-- Payout lines written by the hundred thousand (issue 18's benchmark: 500,000 in one run),
-- each still refused twice or pointing nowhere, with fewer checks a row.
--
-- Before: three foreign keys a row (each a lookup through SPI, the entry's and the payout's
-- also a FOR KEY SHARE row lock: ~19 us a line, measured), an identity key and a UNIQUE
-- index beside it. Now:
-- - the primary key (provider_id, entry_id): an entry is covered by at most one payout of its
--   provider (what payout_lines_entry said); the identity column it replaces was read by no one;
-- - once a statement (a transition table joined once): each line's (payout_id, provider_id)
--   is a payout's, whose own foreign key says the provider exists, and each entry exists.
--   What the row locks kept, triggers keep: journal entries can be neither deleted nor
--   truncated (0014), nor payouts, whose id and provider never change; lines are immutable,
--   so no UPDATE can point one elsewhere later. The lines' payout and entry are written in the
--   line's own transaction or before it (a payout and its lines are one statement).
DROP INDEX payout_lines_payout;  -- (payout_id, id): the id goes
ALTER TABLE payout_lines
    DROP CONSTRAINT payout_lines_payout_id_fkey,
    DROP CONSTRAINT payout_lines_provider_id_fkey,
    DROP CONSTRAINT payout_lines_entry_id_fkey,
    DROP CONSTRAINT payout_lines_entry,
    DROP COLUMN id,
    ADD CONSTRAINT payout_lines_pkey PRIMARY KEY (provider_id, entry_id);
CREATE INDEX payout_lines_payout ON payout_lines (payout_id);

CREATE FUNCTION payout_lines_references() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing TEXT;
BEGIN
    SELECT n.payout_id::text INTO missing
    FROM (SELECT DISTINCT payout_id, provider_id FROM new_lines) n
    WHERE NOT EXISTS (SELECT 1 FROM payouts p
                      WHERE p.id = n.payout_id AND p.provider_id = n.provider_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'payout line of payout % that is not its provider''s or does not exist',
            missing USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT n.entry_id::text INTO missing FROM new_lines n
    WHERE NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.id = n.entry_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'payout line of journal entry % that does not exist', missing
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER payout_lines_references AFTER INSERT ON payout_lines
    REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION payout_lines_references();

CREATE FUNCTION payout_history_refused() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% refused on %: payouts and their lines are kept as frozen',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER payout_lines_immutable BEFORE UPDATE OR DELETE ON payout_lines
    FOR EACH ROW EXECUTE FUNCTION payout_history_refused();
CREATE TRIGGER payout_lines_no_truncate BEFORE TRUNCATE ON payout_lines
    FOR EACH STATEMENT EXECUTE FUNCTION payout_history_refused();
CREATE TRIGGER payouts_kept BEFORE DELETE ON payouts
    FOR EACH ROW EXECUTE FUNCTION payout_history_refused();
CREATE TRIGGER payouts_identity_kept BEFORE UPDATE OF id, provider_id ON payouts
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id
                       OR OLD.provider_id IS DISTINCT FROM NEW.provider_id)
    EXECUTE FUNCTION payout_history_refused();
CREATE TRIGGER payouts_no_truncate BEFORE TRUNCATE ON payouts
    FOR EACH STATEMENT EXECUTE FUNCTION payout_history_refused();
