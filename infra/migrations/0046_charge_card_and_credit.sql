-- Two fixes to client_charges found at merge (payments).
--
-- The card that paid a charge, as Stripe names it (the charge's payment_method_details.card).
--
-- client_charges.payment_method_id is the card Hearth first sent; a client who pays a declined
-- charge on-session may pay with another card, typed in at Stripe.js and never saved (so not
-- in payment_methods). When the capture is recorded, the paying card's id goes into
-- payment_method_id and its brand and last four digits here, so the charges list and the
-- statement name the card that was charged. NULL: not paid, or booked before this column.
ALTER TABLE client_charges
    ADD COLUMN card_brand TEXT CHECK (length(card_brand) BETWEEN 1 AND 50),
    ADD COLUMN card_last4 TEXT CHECK (card_last4 ~ '^[0-9]{4}$');

-- A charge the client's credit settled whole before it was ever sent to Stripe (DESIGN.md
-- "Balance due": credit first) is `succeeded` with no PaymentIntent and no fee: nothing was
-- charged to a card. Any other succeeded charge has its intent and fee, as before.
ALTER TABLE client_charges
    DROP CONSTRAINT client_charges_succeeded,
    ADD CONSTRAINT client_charges_succeeded CHECK (
        (status = 'succeeded') = (succeeded_at IS NOT NULL)
        AND (status <> 'succeeded'
             OR (payment_intent_id IS NOT NULL AND fee_cents IS NOT NULL)
             OR (payment_intent_id IS NULL AND credit_applied_cents = amount_cents)));
