"""The Stripe simulator: localstripe's API served by our own process, with what it lacks added.

`python -m infra.stripe --host 127.0.0.1 --port 0` prints `listening on http://HOST:PORT` first
(`make run` starts it and hands every child `HEARTH_STRIPE_API_BASE`; the tests start it with
`tests/stripesim.py`). The official SDK talks to it with only its base address changed
(`stripe.StripeClient(key, base_addresses={"api": url})`); any `sk_...` key is accepted. It
shares no code with services/.

localstripe's aiohttp routes and middlewares are served on 127.0.0.1 (never its `start()`,
which listens on every interface at 8420 and loads `/tmp/localstripe.pickle`); its store is
never pickled (`Store.dump_to_disk` and `try_load_from_disk` do nothing), so every process
starts empty. Our routes are registered before its own, so ours answer where both have one:

- `idempotency.py`: Idempotency-Key on every POST (replay, 400 `idempotency_error`, 24 h);
- `payments.py`: 402 `card_error` for declines and off-session authentication, the 50-cent
  minimum, the create parameters localstripe refuses, confirm with a new card, list by
  customer, refunds by PaymentIntent and never beyond the charge;
- `setup_intents.py`: create refuses a customer it does not know (400 `resource_missing`); a
  confirmed SetupIntent attaches its card to the customer; 402 `card_error` on a decline;
  setup_intent.succeeded / .requires_action / .setup_failed;
- `balance.py`: Stripe's fee (2.9% + 30 cents) on every charge's balance transaction, pending
  then available; `GET /v1/balance` in USD;
- `connect.py`: `/v1/accounts`, `/v1/account_links`, `/v1/transfers` (on the available balance, else
  `balance_insufficient`), `/v1/transfers/{id}/reversals`, `/v1/topups`;
- `disputes.py`: disputes and failed refunds, started by admin routes;
- `webhooks.py`: deliveries signed at send time, retried with backoff, duplicated, reordered;
- `faults.py`: timeouts, 4xx/429/5xx errors (also after the work was done), forced declines,
  slow answers.

Events sent: setup_intent.succeeded, setup_intent.requires_action, setup_intent.setup_failed,
payment_intent.succeeded, payment_intent.payment_failed, charge.refunded,
refund.created, charge.refund.updated, refund.failed, charge.dispute.created,
charge.dispute.funds_withdrawn, charge.dispute.funds_reinstated, charge.dispute.closed,
transfer.created, transfer.reversed, topup.created, topup.succeeded, topup.failed,
account.updated (a connected account's event: `account` set, to Connect endpoints only), and
localstripe's own (customer.*, ...). `GET /v1/events/{id}` reads any of them back.

Admin routes (JSON bodies, no API key):
- `GET /_admin/health`: `{"status": "ok", "now": <simulator time>, "faults": n}`.
- `POST /_admin/reset`: an empty Stripe: no objects, idempotency keys, faults, held events,
  delivery log, clock advance, or webhook endpoints other than the start-up ones; the
  start-up config back.
- `GET /_admin/clock`; `POST /_admin/clock {"advance_s": N}`: move the simulator's clock
  forward (idempotency keys expire after 24 h of it, pending funds become available, pending
  top-ups succeed). Webhook signatures use infra's clock, never advanced.
- `GET|POST /_admin/config {"available_delay_s", "topup_delay_s", "webhook_retry_base_s",
  "webhook_retry_cap_s", "webhook_max_attempts", "webhook_timeout_s"}`: any subset.
- `GET|POST|DELETE /_admin/faults`: POST one rule or `{"faults": [rules]}`; a rule is
  `{"kind": "timeout"|"error"|"decline"|"slow", "path_prefix": "/v1/...", "method": "POST",
  "count": N | "fraction": 0..1, "delay_s": s, "status": 5xx, "decline_code": "...",
  "after": bool}` (see faults.py); DELETE removes them all.
- `GET|POST /_admin/webhooks {"url", "secret", "events": [types] | null, "id", "connect"}`:
  endpoints; `connect: true` makes a Connect endpoint, which gets the events of connected
  accounts (`account` set: account.updated) and nothing else, as Stripe's do; the others get
  every other event (`--webhook URL` and `--webhook-to-api` register both kinds at start-up,
  signing with `--webhook-secret` and `--connect-webhook-secret`);
  `DELETE /_admin/webhooks/{id}`.
- `POST /_admin/webhooks/switches {"duplicates": 0..1, "jitter_s": s, "hold": bool}`;
  `POST /_admin/webhooks/release {"order": "fifo"|"reverse"|"shuffle"}` sends held events;
  `GET /_admin/webhooks/deliveries`: every attempt (event, type, endpoint, attempt, status).
- `GET /_admin/onboarding/{account}`: the page an account link points at.
- `POST /_admin/disputes {"charge", "amount", "reason"}`;
  `POST /_admin/disputes/{id}/close {"status": "won"|"lost"}`.
- `POST /_admin/refunds/{id}/fail {"failure_reason"}`; `POST /_admin/topups/{id}/fail` (a
  pending top-up: its funds never arrive, topup.failed).
"""
