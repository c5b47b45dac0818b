-- Session completion (issue 15 item 1): what a provider records when confirming a session.
-- The session keeps its booked start and length; the completion records what happened.

ALTER TABLE therapy_sessions DROP CONSTRAINT therapy_sessions_status_check;
ALTER TABLE therapy_sessions ADD CONSTRAINT therapy_sessions_status_check
    CHECK (status IN ('scheduled', 'cancelled', 'no_show', 'confirmed'));

ALTER TABLE therapy_sessions
    -- ICD-10-CM codes without the dot, 1 to 12; the lines point at them by position (1-based).
    ADD COLUMN diagnosis_codes  TEXT[]
        CONSTRAINT therapy_sessions_diagnoses CHECK (
            diagnosis_codes IS NULL OR cardinality(diagnosis_codes) BETWEEN 1 AND 12),
    ADD COLUMN started_at       TIMESTAMPTZ,
    ADD COLUMN actual_minutes   INTEGER CHECK (actual_minutes BETWEEN 1 AND 480),
    ADD COLUMN note_attested    BOOLEAN,
    ADD COLUMN confirmed_at     TIMESTAMPTZ,
    ADD COLUMN confirmed_by     UUID REFERENCES users (id),
    ADD CONSTRAINT therapy_sessions_confirmed_check CHECK (
        (status = 'confirmed') = (
            confirmed_at IS NOT NULL AND confirmed_by IS NOT NULL AND diagnosis_codes IS NOT NULL
            AND started_at IS NOT NULL AND actual_minutes IS NOT NULL
            AND note_attested IS TRUE));

-- The service lines of a confirmed session: a primary code, then its add-ons (90785 ...).
CREATE TABLE therapy_session_lines (
    therapy_session_id  UUID NOT NULL REFERENCES therapy_sessions (id),
    line_number         SMALLINT NOT NULL CHECK (line_number BETWEEN 1 AND 6),
    cpt_code            TEXT NOT NULL CHECK (cpt_code ~ '^[0-9]{4}[0-9A-Z]$'),
    modifiers           TEXT[] NOT NULL DEFAULT '{}' CHECK (cardinality(modifiers) <= 4),
    diagnosis_pointers  SMALLINT[] NOT NULL
        CHECK (cardinality(diagnosis_pointers) BETWEEN 1 AND 4
               AND 1 <= ALL (diagnosis_pointers) AND 12 >= ALL (diagnosis_pointers)),
    PRIMARY KEY (therapy_session_id, line_number)
);
