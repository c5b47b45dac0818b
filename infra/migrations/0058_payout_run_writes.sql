-- An entry's balance is checked at COMMIT by its own deferred trigger; its lines' triggers
-- checked the same sums again, once a line (three checks for a two-line entry, ~9 us each: a
-- third of a payout run's COMMITs). A line's check is needed only when its entry may have been
-- checked before the line was added: after SET CONSTRAINTS ... IMMEDIATE ran the pending checks
-- (a line is only ever added by the transaction that created its entry: journal_lines_checked,
-- 0054). So the check notes, transaction-local, that it ran, and a line's trigger is queued
-- only once one did (a constraint trigger's WHEN is evaluated when the row is inserted; a
-- subtransaction rolled back takes back both the note and the checks it ran). At COMMIT the
-- entries' checks run after every line, as before.
CREATE OR REPLACE FUNCTION journal_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    entry    BIGINT;
    lines    BIGINT;
    debits   NUMERIC;
    credits  NUMERIC;
BEGIN
    PERFORM set_config('hearth.ledger_checked', 'on', true);
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
DROP TRIGGER journal_lines_balanced ON journal_lines;
CREATE CONSTRAINT TRIGGER journal_lines_balanced AFTER INSERT ON journal_lines
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (current_setting('hearth.ledger_checked', true) = 'on')
    EXECUTE FUNCTION journal_entry_balanced();

-- Payouts updated in place (HOT: no index entry written) when the transfer job claims them:
-- pending -> submitting changes no indexed column once the held payouts' index no longer
-- names status (held <=> hold_reason IS NOT NULL: the payouts_held CHECK), and half of each
-- page is left free for the new versions.
DROP INDEX payouts_held;
CREATE INDEX payouts_held ON payouts (hold_reason) WHERE hold_reason IS NOT NULL;
ALTER TABLE payouts SET (fillfactor = 50);

-- A session has one completion entry, ever (its key is completion-{session}: a retry finds the
-- first); now the database says so too. The payout run relies on it: a completion line is due
-- by its own date, and only a session's other entries look their completion up (the run sorted
-- and grouped every session line to find each session's first completion).
CREATE UNIQUE INDEX journal_entries_one_completion ON journal_entries (source_id)
    WHERE kind = 'completion' AND source_table = 'therapy_sessions';
