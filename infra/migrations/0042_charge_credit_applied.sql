-- A client's credit applied to a charge that did not go through (DESIGN.md "Balance due": a
-- client's credit first settles their open balance).
--
-- Nothing is booked: the credit and the charge's debt are both on the client's receivable, so
-- applying one to the other moves no money (as a true-up refund `applied` to a balance due,
-- migration 0035). The column says how much of the charge a credit settled, so only the rest
-- is charged (a new `balance` charge of the rest, its source this charge: the declined
-- PaymentIntent keeps its frozen amount, and the parameters under a key never change) or
-- written off. The charge's recovery is then closed (`paid`): the rest is the new charge's.
ALTER TABLE client_charges
    ADD COLUMN credit_applied_cents BIGINT NOT NULL DEFAULT 0,
    ADD CONSTRAINT client_charges_credit_applied
        CHECK (credit_applied_cents BETWEEN 0 AND amount_cents);
