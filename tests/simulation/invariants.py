"""The checks run after every simulated day, each counted (checked / held) for `make soak`'s report.

The product's side is read from the store and libvirt as they are (plain SELECTs, the domains and the
network's DHCP entries); the expected side comes from the oracle's books only.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import text
from sqlalchemy.engine import Connection

from tests.simulation.books import Books
from tests.simulation.harness import World
from tests.simulation.oracle import Contract

INVARIANTS = (
    "nothing overdue: not restricted, suspended or wiped",
    "overdue past the restriction day: restricted",
    "past the termination day: terminated",
    "terminated: volumes wiped with deletion records, addresses released",
    "invoices: as the terms compute them, to the won",
    "invoiced = paid + outstanding + credited, to the won",
    "no address held twice",
)
NOT_PUNISHED, RESTRICTED, TERMINATED, WIPED, INVOICES, LEDGER, ADDRESSES = INVARIANTS


class InvariantBroken(AssertionError):
    pass


@dataclass
class Tally:
    checked: Counter[str] = field(default_factory=Counter)
    held: Counter[str] = field(default_factory=Counter)

    def report(self) -> str:
        width = max(len(name) for name in INVARIANTS)
        rows = [
            f"{name:<{width}}  checked {self.checked[name]:>9,}  held {self.held[name]:>9,}"
            for name in INVARIANTS
        ]
        return "\n".join(rows)


@dataclass
class Snapshot:
    """The product's state at the end of a day, in a handful of queries."""

    states: dict[int, str]
    nonpayment_blocked: set[int]
    servers: dict[int, list[tuple[str, str, bool, bool]]]  # contract -> (id, desired, suspended, wiped)
    leases: dict[int, list[str]]  # contract -> addresses still held
    held_twice: list[str]
    invoices: dict[tuple[int, str], dict[str, int]]
    money: dict[int, dict[str, int]]
    domains: set[str] = field(default_factory=set)

    @classmethod
    def take(cls, db: Connection) -> Snapshot:
        states = {int(i): str(s) for i, s in db.execute(text("SELECT id, state FROM contracts"))}
        blocked = {
            int(r[0])
            for r in db.execute(
                text("SELECT contract_id FROM blocks WHERE lifted_at IS NULL AND kind='nonpayment'")
            )
        }
        servers: dict[int, list[tuple[str, str, bool, bool]]] = defaultdict(list)
        for sid, cid, desired, suspended, wiped in db.execute(
            text(
                "SELECT s.id, s.contract_id, s.desired_state, s.suspended_by_restriction, d.id IS NOT NULL "
                "FROM servers s LEFT JOIN deletion_records d ON d.server_id = s.id"
            )
        ):
            servers[int(cid)].append((str(sid), str(desired), bool(suspended), bool(wiped)))
        leases: dict[int, list[str]] = defaultdict(list)
        for cid, address in db.execute(
            text("SELECT contract_id, address FROM address_leases WHERE released_at IS NULL")
        ):
            leases[int(cid)].append(str(address))
        twice = [
            str(a)
            for (a,) in db.execute(
                text(
                    "SELECT address FROM address_leases WHERE released_at IS NULL "
                    "GROUP BY address HAVING COUNT(*) > 1"
                )
            )
        ]
        return cls(states, blocked, servers, leases, twice, _invoices(db), _money(db))


def _invoices(db: Connection) -> dict[tuple[int, str], dict[str, int]]:
    found: dict[tuple[int, str], dict[str, int]] = {}
    rows = db.execute(
        text(
            "SELECT i.id, i.contract_id, i.month, i.supply_amount, i.vat_amount, i.total, i.paid_amount, "
            "COALESCE(SUM(CASE WHEN l.kind='late_fee' THEN l.amount END), 0), "
            "COALESCE(SUM(CASE WHEN l.kind='penalty' THEN l.amount END), 0), "
            "COALESCE(-SUM(CASE WHEN l.kind='credit' THEN l.amount END), 0), "
            "COALESCE(-SUM(CASE WHEN l.kind='credit_note' THEN l.amount END), 0) "
            "FROM invoices i LEFT JOIN invoice_lines l ON l.invoice_id = i.id GROUP BY i.id"
        )
    )
    for iid, cid, month, supply, vat, total, paid, late, penalty, credit, noted in rows:
        found[(int(cid), str(month)[:7])] = {
            "id": int(iid),
            "supply": int(supply),
            "vat": int(vat),
            "total": int(total),
            "paid": int(paid),
            "late_fees": int(late),
            "penalty": int(penalty),
            "credit_used": int(credit),
            "corrected": int(noted),
        }
    return found


def _money(db: Connection) -> dict[int, dict[str, int]]:
    """Per customer: money received, refunded, credit left, and the invoices' figures."""
    money: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for cust, amount in db.execute(
        text("SELECT customer_id, SUM(amount) FROM payments GROUP BY customer_id")
    ):
        money[int(cust)]["cash_in"] = int(amount)
    for cust, reason, amount in db.execute(
        text("SELECT customer_id, reason, SUM(amount) FROM credit_entries GROUP BY customer_id, reason")
    ):
        money[int(cust)]["credit"] += int(amount)
        if reason == "refund":
            money[int(cust)]["refunded"] -= int(amount)
    return money


class Checker:
    def __init__(self, world: World, books: Books, tally: Tally, seed: int) -> None:
        self.world, self.books, self.tally, self.seed = world, books, tally, seed

    def check(self, name: str, ok: bool, today: date, detail: str) -> None:
        self.tally.checked[name] += 1
        if ok:
            self.tally.held[name] += 1
            return
        raise InvariantBroken(
            f"simulation seed {self.seed} (DCLOUD_SIM_SEED={self.seed}) broke an invariant on "
            f"{today.isoformat()}: {name}: {detail}{self._forensics(detail)}"
        )

    def _forensics(self, detail: str) -> str:
        """The product's rows of the contract named first in `detail`, to start the diagnosis from."""
        words = detail.replace(":", " ").split()
        if "contract" not in words:
            return ""
        cid = words[words.index("contract") + 1]
        lines = []
        with self.world.engine.connect() as db:
            for table in ("blocks", "terminations", "invoices", "invoice_disputes"):
                for row in db.execute(text(f"SELECT * FROM {table} WHERE contract_id = :c"), {"c": cid}):
                    lines.append(f"  {table}: {dict(row._mapping)}")
        return "\n" + "\n".join(lines)

    def end_of_day(self, today: date) -> None:
        with self.world.engine.connect() as db:
            snap = Snapshot.take(db)
        snap.domains = {d.name() for d in self.world.conn.listAllDomains(0)}
        for c in self.books.contracts.values():
            self._enforcement(c, snap, today)
            self._invoices(c, snap, today)
        self._ledger(snap, today)
        self._addresses(snap, today)

    def _enforcement(self, c: Contract, snap: Snapshot, today: date) -> None:
        state = snap.states[c.id]
        servers = snap.servers.get(c.id, [])
        t = c.termination
        ending = t is not None and t.started_on is not None
        if not ending:
            punished = state != "active" or any(d != "running" or s or w for _, d, s, w in servers)
            if c.restricted_since is None:
                detail = f"contract {c.id} ({state}, servers {servers}) owes nothing restrictable: "
                detail += self._owes(c, today)
                self.check(NOT_PUNISHED, not punished, today, detail)
            else:
                suspended = state == "restricted" and c.id in snap.nonpayment_blocked
                suspended = suspended and all(d == "suspended" for _, d, _, _ in servers)
                detail = f"contract {c.id} is {state} (servers {servers}); "
                detail += f"restricted since {c.restricted_since}: {self._owes(c, today)}"
                self.check(RESTRICTED, suspended, today, detail)
            return
        assert t is not None and t.started_on is not None
        done = state == "terminated" if today > t.started_on else state in ("terminating", "terminated")
        self.check(
            TERMINATED,
            done,
            today,
            f"contract {c.id} is {state}; {t.kind} termination started {t.started_on}",
        )
        if today > t.started_on:
            data = [f for sid, _, _, _ in servers for f in self.world.customer_data_left(sid)]
            domains = [sid for sid, _, _, _ in servers if f"dcloud-{sid}" in snap.domains]
            wiped = (
                all(w for _, _, _, w in servers) and not snap.leases.get(c.id) and not data and not domains
            )
            detail = (
                f"contract {c.id}: servers {servers}, addresses held {snap.leases.get(c.id)}, "
                f"customer data left in {data}, domains left {domains}"
            )
            self.check(WIPED, wiped and servers != [], today, detail)

    def _owes(self, c: Contract, today: date) -> str:
        return (
            ", ".join(
                f"invoice {i.month} due {i.due} total {i.total} paid {i.paid} disputed {i.disputed_open} "
                f"restriction day {i.restriction_day()}"
                for i in c.invoices
                if i.outstanding
            )
            or "nothing unpaid"
        )

    def _invoices(self, c: Contract, snap: Snapshot, today: date) -> None:
        mine = {m: v for (cid, m), v in snap.invoices.items() if cid == c.id}
        expected = {f"{i.month[0]:04d}-{i.month[1]:02d}": i for i in c.invoices}
        same_months = set(mine) == set(expected)
        self.check(
            INVOICES,
            same_months,
            today,
            f"contract {c.id}: invoices {sorted(mine)} != expected {sorted(expected)}",
        )
        for month, inv in expected.items():
            got = mine[month]
            want = {
                "supply": inv.supply,
                "vat": inv.vat,
                "total": inv.total,
                "paid": inv.paid,
                "late_fees": inv.late_lines,
                "penalty": inv.penalty,
                "credit_used": inv.credit_used,
                "corrected": inv.corrected,
            }
            diff = {k: (got[k], v) for k, v in want.items() if got[k] != v}
            self.check(
                INVOICES, not diff, today, f"contract {c.id} invoice {month}: (product, terms) differ: {diff}"
            )

    def _ledger(self, snap: Snapshot, today: date) -> None:
        for customer in sorted({c.customer for c in self.books.contracts.values()}):
            invoices = [
                v for (cid, _), v in snap.invoices.items() if self.books.contracts[cid].customer == customer
            ]
            m = snap.money.get(customer, {})
            invoiced = sum(v["total"] + v["credit_used"] + v["corrected"] for v in invoices)
            outstanding = sum(max(0, v["total"] - v["paid"]) for v in invoices)
            credited = sum(v["corrected"] for v in invoices)
            paid = m.get("cash_in", 0) - m.get("refunded", 0) - m.get("credit", 0)
            product = (invoiced, paid, outstanding, credited)
            terms = self.books.invoiced_paid_outstanding_credited(customer)
            ok = invoiced == paid + outstanding + credited and product == terms
            detail = f"customer {customer}: (invoiced, paid, outstanding, credited) "
            detail += f"product {product}, terms {terms}"
            self.check(LEDGER, ok, today, detail)

    def _addresses(self, snap: Snapshot, today: date) -> None:
        net = self.world.conn.networkLookupByName(self.world.network)
        from agents.netbinding import dhcp_hosts

        ips = list(dhcp_hosts(net).values())
        twice = sorted({ip for ip in ips if ips.count(ip) > 1})
        self.check(
            ADDRESSES, not snap.held_twice and not twice, today, f"store {snap.held_twice}, libvirt {twice}"
        )
