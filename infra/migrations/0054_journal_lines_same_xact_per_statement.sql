-- A journal line is still added only by the transaction that created its entry (0014), checked
-- once a statement instead of once a row: the payout run posts a payout_frozen entry per
-- provider, then a payout_transferred entry per payout, two lines each, by the hundred in one
-- statement, and the per-row trigger ran a query through SPI for every line.
--
-- The same refusal: the statement's lines (its transition table) joined once to their entries;
-- one created by another transaction raises the same error, which aborts the statement and
-- its lines. AFTER the statement, its own entries (a data-modifying WITH) are visible and
-- this transaction's; an entry the statement cannot see (committed after a REPEATABLE READ
-- snapshot) is refused by the foreign key, whose row checks run before this trigger.
DROP TRIGGER journal_lines_same_xact ON journal_lines;
DROP FUNCTION journal_lines_same_xact();

CREATE FUNCTION journal_lines_same_xact() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    closed BIGINT;
BEGIN
    SELECT e.id INTO closed
    FROM (SELECT DISTINCT entry_id FROM new_lines) n
    JOIN journal_entries e ON e.id = n.entry_id
    WHERE e.created_xact <> pg_current_xact_id()
    ORDER BY e.id
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % is closed: lines are added only by the transaction '
            'that created it; post a new entry', closed
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER journal_lines_same_xact AFTER INSERT ON journal_lines
    REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION journal_lines_same_xact();
