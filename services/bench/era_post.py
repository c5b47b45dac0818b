"""`bench era_post`: 835 files posted into the database through `post_file`, beside bare inserts.

The world (infra gives a fresh database; migrated here, the demo world loaded as of AS_OF):
HEARTH_BENCH_ERA_POST_CLAIMS (12,000) claims of Evergreen members billed by the demo providers,
as completion and the 277CA leave them (`accepted` with the payer's claim number, the
completion's journal entry posted), put in place with a few bulk statements: setting up is not
what is measured. Their 835s come from
the era_parse bench's writer, HEARTH_BENCH_ERA_POST_PAYMENT (500) claims a payment, two
payments a file, in six shapes: paid with a copay, partly paid (deductible and coinsurance above
the estimate: a true-up), denied CO-50 (a loss the policy recoups), paid with its add-on line
denied CO-97 (a loss absorbed, ops told), paid then reversed and corrected in the next payment
(often the next file), paid with coinsurance; each payment has an interest PLB and a WO on one
of its claims. Each file is posted as production posts it: `post_file`, one transaction.

The baseline (`bare_inserts`) is the rows that very posting wrote, read back after it (not
timed) and written again under new ids and keys by COPY (the UPDATEs by executemany) in one
transaction per file: the file, its payments, remitted claims, lines, adjustments and PLBs, the
journal entries and lines (the ledger's triggers and COMMIT checks run for them too), the
claims' history rows, and the same UPDATEs of the claims and their versions. It is what the
posting's writes cost with no reads, no decisions and no locks: its rate is printed on its own
line (`bench era_post_baseline name=bare_inserts claims_per_s=...`, measured in the same run),
and `ratio` (claims_per_s over the baseline's) says how close the posting comes to merely
storing its result, and `cpu_ratio` the same of the CPU both sides spent, process and backend
(steadier than wall-clock time on a shared machine). Files alternate with their baseline copy.

The line also says where the time goes, per claim: this process's CPU (parsing, deciding,
encoding) and the database backend's (`cpu_ms_postgres`, from /proc: the pool has one
connection), and `cpu_claims_per_s`, the rate those two alone allow (the process and its backend
take turns, so on an idle machine the wall-clock rate comes near it; on a busy one each waits
for a core and `claims_per_s` falls well below).

Measured on the shared 2-core development machine (December 2026, the default 12,000 claims:
15,832 CLPs in 12 files, other work keeping the load average near 2.5): posting a claim at a
time (about 15 statements a claim) ran 388 claims/s, 0.98 ms of Python and 0.28 ms of
PostgreSQL CPU a claim (795/s at most); posting a payment at a time runs 1,850-1,910 claims/s,
0.12 and 0.28 ms (2,450-2,620/s at most), 0.63 of the bare inserts' rate. What is left is mostly
PostgreSQL writing the rows: the ledger's per-line triggers and foreign keys, the deferred
balance checks at COMMIT, the claims' index updates, which the baseline pays as well. Under a
load average of 11-12 the same runs gave 87 and 584 claims/s; at a load near 1.9, 2,610/s.
With the true-ups and the loss facts merged in (a client_true_ups row per true-up, about a
third of these claims, written one statement each; the claim match query joins sessions, payers,
locations and licences), 1,877/s at a load near 2.6 (0.17 and 0.34 ms of CPU), the settle jobs
queued together per payment. With a payment's true-ups written in one INSERT as well (only a
correction netting a waiting reversal, and a reversal's own row, are written one at a time),
the true-ups its reversals negate locked in one statement and their audit ids no longer read
back (65 statements a file of 1,334 CLPs, was 232): at a load of 4.9-5.3, 1,260-1,440
claims/s, 0.136-0.143 and 0.303-0.308 ms of CPU a claim (2,230-2,280/s at most), 0.54-0.67 of
the bare inserts' rate (0.57-0.59 of their CPU); the same three runs before it, at a load of
4.1-5.4, gave 1,050-1,280/s, 0.160-0.175 and 0.340-0.355 ms (1,890-2,000/s at most), 0.46-0.51.
What is left, by statement (auto_explain, one payment of ~670 claims): the journal entries'
INSERT with its per-line triggers ~50-56 ms (about 30 of them in the AFTER triggers), the
claims' UPDATE ~10-13, the true-ups' INSERT ~7 (250 rows), the claim match ~5, the status
history ~6, COMMIT's deferred checks ~40 a file; in Python, parsing ~0.06 ms a claim and
building the ledger lines (ledger.service.lines_from_net) ~0.05.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from schemas.ledger import AccountRef, EntryIn, Line
from services.bench import bare_inserts
from services.bench.era_parse import HEADER, NPI, svc_line, transaction_set
from services.bench.served import AS_OF, database_world, percentile
from services.bench.session_completion import cpu_ms
from services.core.auth import SYSTEM
from services.core.db import create_pool, init_connection, transaction
from services.dev.demo_data import OPS_EMAIL
from services.ledger.service import get_trial_balance, post_entries
from services.remittance.service import post_file

BASELINE = "bare_inserts"
PAYMENTS_PER_FILE = 2
ALLOWED, ADD_ON_ALLOWED, ESTIMATE = 12000, 2000, 2000
PROVIDER_SHARE = 0.8


@dataclass(frozen=True)
class Billed:
    n: int
    session_id: uuid.UUID
    claim_id: uuid.UUID
    policy: asyncpg.Record
    provider_id: uuid.UUID

    @property
    def shape(self) -> int:
        return self.n % 6

    @property
    def lines(self) -> list[tuple[str, int, int]]:
        """(CPT, charge, allowed) of each line; its REF*6R is L{n:08d}{CPT's last digit}."""
        first = [("90837", 15000, ALLOWED)]
        return [*first, ("90785", 2550, ADD_ON_ALLOWED)] if self.shape == 3 else first


def clm01(n: int) -> str:
    return f"HC{n:08d}A"


def claim_segments(billed: Billed) -> tuple[list[str], int]:
    """The claim's CLP in its shape, and what it paid (cents)."""
    n, pcn, shape = billed.n, clm01(billed.n), billed.shape
    people = [f"NM1*QC*1*LEE*JORDAN****MI*M{n:08d}", "DTM*050*20261120"]
    cas, extra = ["CAS*CO*45*30", "CAS*PR*3*20"], ["AMT*B6*120"]
    clp, lines, paid = f"CLP*{pcn}*1*150*100*20*12*P{n:012d}*11*1", [], 10000
    if shape == 1:  # deductible and coinsurance: 90 the client owes, 20 estimated
        clp, paid = f"CLP*{pcn}*1*150*30*90*12*P{n:012d}*11*1", 3000
        lines = svc_line("90837", 15000, 3000, ["CAS*CO*45*30", "CAS*PR*1*80**2*10"], n, extra)
    elif shape == 2:  # denied: not medically necessary
        clp, paid = f"CLP*{pcn}*4*150*0**12*P{n:012d}*11*1", 0
        lines = svc_line("90837", 15000, 0, ["CAS*CO*50*150"], n, ["LQ*HE*N115"])
    elif shape == 3:  # paid, its add-on bundled
        clp = f"CLP*{pcn}*1*175.50*100*20*12*P{n:012d}*11*1"
        lines = svc_line("90837", 15000, 10000, cas, n, extra)
        lines += svc_line("90785", 2550, 0, ["CAS*CO*97*25.50"], n, ["LQ*HE*M80"])
    elif shape == 5:  # coinsurance instead of a copay
        lines = svc_line("90837", 15000, 10000, ["CAS*CO*45*30", "CAS*PR*2*20"], n, extra)
    else:  # 0, and 4 (reversed and corrected in the next payment)
        lines = svc_line("90837", 15000, 10000, cas, n, extra)
    return [clp, *people, *lines], paid


def reversal_and_correction(billed: Billed) -> tuple[list[str], int]:
    """The reversal of a shape-4 claim's payment (every amount negated) and its correction."""
    n, pcn = billed.n, clm01(billed.n)
    people = [f"NM1*QC*1*LEE*JORDAN****MI*M{n:08d}"]
    reversal = [
        f"CLP*{pcn}*22*-150*-100*-20*12*P{n:012d}*11*1", *people,
        *svc_line("90837", -15000, -10000, ["CAS*CO*45*-30", "CAS*PR*3*-20"], n, []),
    ]  # fmt: skip
    correction = [
        f"CLP*{pcn}*1*150*110*10*12*P{n:012d}C*11*1", *people,
        *svc_line("90837", 15000, 11000, ["CAS*CO*45*30", "CAS*PR*3*10"], n, ["AMT*B6*120"]),
    ]  # fmt: skip
    return reversal + correction, -10000 + 11000


def payments(world: list[Billed], per_payment: int) -> Iterator[tuple[list[str], int]]:
    """Each payment's transaction set and how many CLPs it holds; a payment's shape-4 claims
    are reversed and corrected in the next one."""
    owed: list[Billed] = []
    for number, first in enumerate(range(0, len(world), per_payment), start=1):
        chunk = world[first : first + per_payment]
        body, paid, clps = ["LX*1"], 0, 0
        for billed in chunk:
            segments, cents = claim_segments(billed)
            body, paid, clps = body + segments, paid + cents, clps + 1
        for billed in owed:
            segments, cents = reversal_and_correction(billed)
            body, paid, clps = body + segments, paid + cents, clps + 2
        owed = [b for b in chunk if b.shape == 4]
        body.append(f"PLB*{NPI}*20261231*L6:P{chunk[0].n:012d}*-1.25*WO:{clm01(chunk[-1].n)}*10")
        yield transaction_set(number, body, paid + 125 - 1000), clps


def files(world: list[Billed], per_payment: int) -> list[tuple[bytes, int]]:
    """The interchanges, PAYMENTS_PER_FILE payments each, and how many CLPs each holds."""
    out: list[tuple[bytes, int]] = []
    sets = list(payments(world, per_payment))
    for first in range(0, len(sets), PAYMENTS_PER_FILE):
        group = sets[first : first + PAYMENTS_PER_FILE]
        body = "".join("~\n".join(segments) + "~\n" for segments, _ in group)
        text = HEADER + body + f"GE*{len(group)}*1~\nIEA*1*000000001~\n"
        out.append((text.encode(), sum(clps for _, clps in group)))
    return out


async def build_world(conn: asyncpg.Connection, count: int) -> list[Billed]:
    """`count` accepted claims of Evergreen members, each with its completion entry."""
    ops = await conn.fetchval("SELECT id FROM users WHERE email = $1", OPS_EMAIL)
    policies = await conn.fetch(
        "SELECT p.id, p.client_id, p.payer_id FROM insurance_policies p"
        " JOIN payers y ON y.id = p.payer_id WHERE y.x12_payer_id = 'EVGRN' ORDER BY p.id"
    )
    providers = [r["id"] for r in await conn.fetch("SELECT id FROM providers ORDER BY id")]
    world = [
        Billed(n, uuid.uuid4(), uuid.uuid4(), policies[n % len(policies)],
               providers[n % len(providers)])
        for n in range(count)
    ]  # fmt: skip
    day = AS_OF - timedelta(days=20)
    await conn.execute(
        """
        INSERT INTO therapy_sessions (id, provider_id, client_id, policy_id, starts_at,
            duration_minutes, place_of_service, status, created_by, diagnosis_codes, started_at,
            actual_minutes, note_attested, confirmed_at, confirmed_by)
        SELECT w.id, w.provider_id, w.client_id, w.policy_id, $5::timestamptz, 53, '11',
               'confirmed', $6,
               '{F411}', $5, 53, true, $5::timestamptz + interval '1 hour', $6
        FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[])
            AS w (id, provider_id, client_id, policy_id)
        """,
        [b.session_id for b in world], [b.provider_id for b in world],
        [b.policy["client_id"] for b in world], [b.policy["id"] for b in world], day, ops,
    )  # fmt: skip
    await conn.execute(
        """
        INSERT INTO claims (id, therapy_session_id, payer_id, policy_id, provider_id, client_id,
            claim_number, status, service_date, place_of_service, diagnosis_codes,
            total_charge_cents, allowed_cents)
        SELECT w.id, w.session_id, w.payer_id, w.policy_id, w.provider_id, w.client_id,
               w.number, 'accepted', $9, '11', '{F411}', w.charge, w.allowed
        FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::uuid[],
                    $7::text[], $8::bigint[], $10::bigint[])
            AS w (id, session_id, payer_id, policy_id, provider_id, client_id, number, charge,
                  allowed)
        """,
        [b.claim_id for b in world], [b.session_id for b in world],
        [b.policy["payer_id"] for b in world], [b.policy["id"] for b in world],
        [b.provider_id for b in world], [b.policy["client_id"] for b in world],
        [f"HC{b.n:08d}" for b in world], [sum(c for _, c, _ in b.lines) for b in world],
        day.date(), [sum(a for _, _, a in b.lines) for b in world],
    )  # fmt: skip
    lines = [
        (b.claim_id, m, cpt, charge, allowed, _rate(allowed), f"L{b.n:08d}{cpt[-1]}")
        for b in world
        for m, (cpt, charge, allowed) in enumerate(b.lines, start=1)
    ]
    await conn.execute(
        """
        INSERT INTO claim_lines (claim_id, line_number, cpt_code, charge_cents, allowed_cents,
                                 provider_rate_cents, diagnosis_pointers, line_control_number)
        SELECT claim_id, line_number, cpt, charge, allowed, rate, '{1}', control
        FROM unnest($1::uuid[], $2::smallint[], $3::text[], $4::bigint[], $5::bigint[],
                    $6::bigint[], $7::text[])
            AS w (claim_id, line_number, cpt, charge, allowed, rate, control)
        """,
        *(list(column) for column in zip(*lines, strict=True)),
    )
    await conn.execute(
        "INSERT INTO claim_submissions (claim_id, version, frequency, clm01, payer_claim_number)"
        " SELECT id, 1, '1', clm01, number"
        " FROM unnest($1::uuid[], $2::text[], $3::text[]) AS w (id, clm01, number)",
        [b.claim_id for b in world], [clm01(b.n) for b in world],
        [f"P{b.n:012d}" for b in world],
    )  # fmt: skip
    await post_entries(conn, [_completion(b) for b in world])
    return world


def _rate(allowed: int) -> int:
    """A line's provider rate: its share of the line's allowed amount."""
    return int(allowed * PROVIDER_SHARE)


def _completion(billed: Billed) -> EntryIn:
    """The completion's entry, as completing the session books it (its lines' rates)."""
    allowed = sum(a for _, _, a in billed.lines)
    rate = sum(_rate(a) for _, _, a in billed.lines)
    policy = billed.policy
    return EntryIn(
        kind="completion", idempotency_key=f"completion-{billed.session_id}",
        source_table="therapy_sessions", source_id=billed.session_id,
        lines=(
            Line(account=AccountRef(kind="client_receivable", owner_id=policy["client_id"]),
                 side="debit", amount_cents=ESTIMATE),
            Line(account=AccountRef(kind="payer_receivable", owner_id=policy["payer_id"]),
                 side="debit", amount_cents=allowed - ESTIMATE, claim_id=billed.claim_id),
            Line(account=AccountRef(kind="provider_payable", owner_id=billed.provider_id),
                 side="credit", amount_cents=rate),
            Line(account=AccountRef(kind="platform_revenue"), side="credit",
                 amount_cents=allowed - rate),
        ),
    )  # fmt: skip


@dataclass
class Measured:
    posting_s: list[float]
    baseline_s: float = 0.0
    cpu_ms: tuple[float, float] = (0.0, 0.0)  # this process, the database backend
    baseline_cpu_ms: float = 0.0  # both, for the baseline


async def _measure(database_url: str, count: int, per_payment: int) -> tuple[Measured, int]:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with transaction(pool) as conn:
            world = await build_world(conn, count)
        interchanges = files(world, per_payment)
        async with pool.acquire() as conn:
            backend = await conn.fetchval("SELECT pg_backend_pid()")
        copier = await asyncpg.connect(database_url)
        await init_connection(copier)
        copier_backend = await copier.fetchval("SELECT pg_backend_pid()")
        measured, claims = Measured(posting_s=[]), 0
        cpu = [0.0, 0.0, 0.0]
        for raw, clps in interchanges:
            marks = await bare_inserts.marks(copier)
            began, python, postgres = time.perf_counter(), time.process_time(), cpu_ms([backend])
            out, posted = await post_file(pool, raw, "clearinghouse", SYSTEM)
            measured.posting_s.append(time.perf_counter() - began)
            cpu[0] += (time.process_time() - python) * 1000
            cpu[1] += cpu_ms([backend]) - postgres
            if not posted or out.file.claims != clps:
                raise SystemExit(f"a file posted {out.file.claims} of {clps} claims")
            claims += clps
            written = await bare_inserts.read_written(copier, out.file.id, marks)
            began, python, postgres = (
                time.perf_counter(),
                time.process_time(),
                cpu_ms([copier_backend]),
            )
            async with copier.transaction():
                await bare_inserts.write_again(copier, written)
            measured.baseline_s += time.perf_counter() - began
            cpu[2] += (time.process_time() - python) * 1000 + cpu_ms([copier_backend]) - postgres
        if (await get_trial_balance(copier)).imbalance_cents != 0:
            raise SystemExit("the ledger does not balance after posting")
        await copier.close()
        measured.cpu_ms = (cpu[0] / claims, cpu[1] / claims)
        measured.baseline_cpu_ms = cpu[2] / claims
        return measured, claims
    finally:
        await pool.close()


def main() -> None:
    count = int(os.environ.get("HEARTH_BENCH_ERA_POST_CLAIMS", "12000"))
    per_payment = int(os.environ.get("HEARTH_BENCH_ERA_POST_PAYMENT", "500"))
    database_url = database_world("era_post")["DATABASE_URL"]
    measured, claims = asyncio.run(_measure(database_url, count, per_payment))
    per_s = claims / sum(measured.posting_s)
    baseline_per_s = claims / measured.baseline_s
    print(
        f"bench era_post claims_per_s={per_s:.0f} files={len(measured.posting_s)}"
        f" claims={claims} p99_file_ms={percentile(measured.posting_s, 0.99) * 1000:.1f}"
        f" cpu_ms_python={measured.cpu_ms[0]:.3f} cpu_ms_postgres={measured.cpu_ms[1]:.3f}"
        f" cpu_claims_per_s={1000 / sum(measured.cpu_ms):.0f}"
        f" baseline={BASELINE} ratio={per_s / baseline_per_s:.3f}"
        f" cpu_ratio={measured.baseline_cpu_ms / sum(measured.cpu_ms):.3f}"
    )
    print(f"bench era_post_baseline name={BASELINE} claims_per_s={baseline_per_s:.0f}")


if __name__ == "__main__":
    main()
