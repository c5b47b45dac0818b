-- What each claim line earned the provider: the fee schedule's provider rate for its CPT, as
-- completion (and a correction's re-pricing) booked it. A recoupment for a denied or reversed
-- line is capped at its line's rate, never the whole session's (DESIGN.md "Who carries a
-- loss"): a denied add-on must not take the platform's margin on it, nor the paid lines' rate,
-- from the provider.
ALTER TABLE claim_lines ADD COLUMN provider_rate_cents BIGINT
    CONSTRAINT claim_lines_provider_rate CHECK (provider_rate_cents >= 0);

-- Existing lines: the fee schedule in force then is not kept beside the claim (ops may have
-- edited it since), but the ledger holds what the session actually credited the provider:
-- provider_payable's credits less debits of the claim's completion, edits, corrections and a
-- void (what the recoupment cap reads, queries/posting.py). That total is split across the
-- claim's lines in proportion to their allowed amounts (their charges when every allowed
-- amount is 0), as a fee schedule's rate follows the allowed amount; each line gets the floor
-- of its share and the cents left over go one each to the lines with the largest remainders
-- (then the lowest line numbers), so a claim's lines always add up to exactly that total. A
-- claim with no such entry (never booked, or voided) gets 0 on every line: its provider was
-- credited nothing to recoup.
UPDATE claim_lines cl SET provider_rate_cents = r.base + (r.rank <= r.leftover)::int
FROM (
    SELECT s.claim_id, s.line_number, s.base,
           s.total - sum(s.base) OVER (PARTITION BY s.claim_id) AS leftover,
           row_number() OVER (PARTITION BY s.claim_id
                              ORDER BY s.remainder DESC, s.line_number) AS rank
    FROM (
        SELECT w.claim_id, w.line_number, w.total,
               w.total * w.weight / w.weights AS base,
               w.total * w.weight % w.weights AS remainder
        FROM (
            SELECT l.claim_id, l.line_number, e.total,
                   CASE WHEN sum(l.allowed_cents) OVER c > 0 THEN l.allowed_cents
                        ELSE l.charge_cents END AS weight,
                   CASE WHEN sum(l.allowed_cents) OVER c > 0 THEN sum(l.allowed_cents) OVER c
                        ELSE sum(l.charge_cents) OVER c END::bigint AS weights
            FROM claim_lines l
            JOIN (
                SELECT c.id AS claim_id,
                       greatest(coalesce(sum(CASE jl.side WHEN 'credit' THEN jl.amount_cents
                                                          ELSE -jl.amount_cents END), 0),
                                0)::bigint AS total
                FROM claims c
                LEFT JOIN journal_entries je
                  ON (je.source_table = 'therapy_sessions' AND je.source_id = c.therapy_session_id
                      AND je.kind IN ('completion', 'completion_edited'))
                  OR (je.source_table = 'claims' AND je.source_id = c.id
                      AND je.kind IN ('claim_corrected', 'claim_voided'))
                LEFT JOIN journal_lines jl
                  ON jl.entry_id = je.id
                 AND jl.account_id IN (SELECT id FROM ledger_accounts
                                       WHERE kind = 'provider_payable')
                GROUP BY c.id
            ) e ON e.claim_id = l.claim_id
            WINDOW c AS (PARTITION BY l.claim_id)
        ) w
    ) s
) r
WHERE cl.claim_id = r.claim_id AND cl.line_number = r.line_number;

ALTER TABLE claim_lines ALTER COLUMN provider_rate_cents SET NOT NULL;
