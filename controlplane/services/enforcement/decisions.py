"""From one contract's facts to the sweep's actions. Every rule and number comes from `terms/`;
this module only translates store facts into the terms' inputs and the terms' answers into actions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from controlplane.models.customer import ContractState
from controlplane.policy_registry import PolicyLookup, UnknownPolicyVersion
from controlplane.services.enforcement.facts import IN_SERVICE, ContractFacts, seoul_day
from controlplane.terms.actions import ActionKind, NoticeKind
from controlplane.terms.lifecycle import TerminationKind
from controlplane.terms.overdue import (
    NonpaymentFacts,
    UnpaidInvoice,
    decide_nonpayment,
    invoice_restriction_day,
)
from controlplane.terms.policy import Policy
from controlplane.terms.restriction import RestrictionFacts, decide_uncured_restriction


class SweepKind(StrEnum):
    """A sweep action's kind: the terms' restrict / lift / terminate / notify, plus the bookkeeping ones."""

    RESTRICT = "restrict"
    ENFORCE_BLOCK = "enforce_block"  # a block in force whose effects are not (or no longer) applied
    LIFT = "lift"
    TERMINATE = "terminate"
    NOTIFY = "notify"
    ELIGIBLE = "eligible_for_termination"
    COMPLETE = "complete_termination"
    SETTLE = "settle_termination"  # service ended; the record completes once nothing is unpaid
    DISPUTE_DUE = "dispute_answer_due"  # an open dispute whose 7-day answer deadline is near or past
    # Art. 26(6): a spam fix report missed; an outbound SMTP block awaits an operator's confirmation.
    SPAM_RESTRICTION = "spam_smtp_block_proposed"
    # The contract's pinned terms version is not defined here: nothing that needs its numbers is decided,
    # and applying this action records the failure (Art. 3(4): never decide with another version's numbers).
    POLICY_UNKNOWN = "policy_unknown"


@dataclass(frozen=True, slots=True)
class SweepAction:
    """One decided action: what, on which contract, why (clause, reason), from which anchor, by when."""

    kind: SweepKind
    contract_id: int
    clause: str
    reason: str
    deadline: date
    key: str
    automatic: bool = True
    notice: NoticeKind | None = None
    invoice_ids: tuple[int, ...] = ()
    block_id: int | None = None
    termination_id: int | None = None
    termination_kind: TerminationKind | None = None
    counting: str = ""  # how the terms' day (`deadline`) was counted (terms/periods.py)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["deadline"] = self.deadline.isoformat()
        data["invoice_ids"] = list(self.invoice_ids)
        return data


def decide_pinned(
    facts: ContractFacts, *, as_of: date, at: datetime, policies: PolicyLookup, override: Policy | None = None
) -> list[SweepAction]:
    """`decide_contract` with the contract's pinned version (or `override`, for what-if runs)."""
    if override is not None:
        return decide_contract(facts, as_of=as_of, at=at, policy=override)
    try:
        policy: Policy | None = policies.get(facts.terms_version)
    except UnknownPolicyVersion:
        policy = None
    return decide_contract(facts, as_of=as_of, at=at, policy=policy)


def decide_contract(
    facts: ContractFacts, *, as_of: date, at: datetime, policy: Policy | None
) -> list[SweepAction]:
    """Every action the terms require for this contract on `as_of`.

    `policy` None means the pinned version is unknown: only what needs no policy number is decided (a
    termination already confirmed runs on, a block in force stays enforced) plus one POLICY_UNKNOWN."""
    if facts.state == ContractState.TERMINATED:
        return _awaiting_settlement(facts, as_of)
    started = facts.termination is not None and facts.termination.started
    if facts.state == ContractState.TERMINATING or started:
        return _finish_termination(facts, as_of)
    actions = _pending_termination(facts, as_of)
    if facts.state not in IN_SERVICE:
        return actions
    if actions and actions[0].kind == SweepKind.TERMINATE:
        return actions  # a confirmed termination supersedes restricting the same contract
    if policy is None:
        return actions + _blocks(facts, as_of, at, None) + [_policy_unknown(facts, as_of)]
    nonpayment = _nonpayment(facts, as_of, policy)
    if any(a.kind == SweepKind.TERMINATE for a in nonpayment):
        # Art. 21(1) by policy supersedes a proposal still waiting for its second operator.
        actions = [a for a in actions if a.kind != SweepKind.ELIGIBLE]
    actions += nonpayment
    actions += _blocks(facts, as_of, at, policy)
    actions += _disputes_due(facts, as_of)
    actions += _spam_fix_missed(facts, as_of)
    return actions


def _spam_fix_missed(facts: ContractFacts, as_of: date) -> list[SweepAction]:
    """Art. 26(6): proposed from the day after the 7 days of 26(5) ran out; confirmed only by an operator
    (POST /v1/spam-complaints/{id}/restrict), never by applying the plan."""
    return [
        SweepAction(
            SweepKind.SPAM_RESTRICTION,
            facts.contract_id,
            "Art. 26(6)",
            f"spam complaint {complaint_id}: no fix report by the end of {due_on.isoformat()} (Art. 26(5)); "
            "block outbound SMTP (Art. 16(4)-3..5) once an operator confirms",
            due_on + timedelta(days=1),
            f"spam:{complaint_id}:smtp-block-proposed",
            automatic=False,
            counting=f"Art. 26(5) period ended {due_on.isoformat()}; acts the day after",
        )
        for complaint_id, due_on in facts.spam_fix_missed
    ]


def _disputes_due(facts: ContractFacts, as_of: date) -> list[SweepAction]:
    """Art. 35(1): disputes not answered by the day before their 7th day are listed for an operator."""
    return [
        SweepAction(
            SweepKind.DISPUTE_DUE,
            facts.contract_id,
            "Art. 35(1)",
            f"dispute {dispute_id} must be answered by {due_on.isoformat()}",
            due_on,
            f"dispute:{dispute_id}:answer-due:{as_of}",
            automatic=False,
        )
        for dispute_id, due_on in facts.open_disputes
        if (due_on - as_of).days <= 1
    ]


def _policy_unknown(facts: ContractFacts, as_of: date) -> SweepAction:
    reason = (
        f"pinned terms version {facts.terms_version!r} is not defined in this deployment; "
        "nonpayment and cure decisions are withheld until DCLOUD_POLICY_FILE defines it"
    )
    return SweepAction(
        SweepKind.POLICY_UNKNOWN,
        facts.contract_id,
        "Art. 3(4)",
        reason,
        as_of,
        f"policy-unknown:{facts.terms_version}:{as_of}",
        automatic=False,
    )


def _finish_termination(facts: ContractFacts, as_of: date) -> list[SweepAction]:
    term = facts.termination
    tid = term.termination_id if term else None
    clause = term.clause if term else "Art. 20(8)"
    if facts.servers.not_deleted > 0:  # a server still wanted: ask again for its deletion (idempotent)
        return [
            SweepAction(
                SweepKind.TERMINATE,
                facts.contract_id,
                clause,
                "servers of a terminating contract remain",
                as_of,
                f"termination:{tid}:delete-servers",
                termination_id=tid,
            )
        ]
    if facts.servers.alive > 0:
        return []  # waiting for the agents' deletion records
    return [
        SweepAction(
            SweepKind.COMPLETE,
            facts.contract_id,
            "Art. 20(8)",
            "every server is deleted and its disks wiped; the contract ends",
            as_of,
            f"termination:{tid}:complete",
            termination_id=tid,
        )
    ]


def _awaiting_settlement(facts: ContractFacts, as_of: date) -> list[SweepAction]:
    """Art. 33(2): the service ended; the record stays listed for collection until nothing is unpaid."""
    term = facts.termination
    if term is None or not term.ended:
        return []
    return [
        SweepAction(
            SweepKind.SETTLE,
            facts.contract_id,
            "Art. 33(2)",
            "service ended; the termination completes once nothing is unpaid",
            as_of,
            f"termination:{term.termination_id}:settle:{as_of}",
            termination_id=term.termination_id,
        )
    ]


def _pending_termination(facts: ContractFacts, as_of: date) -> list[SweepAction]:
    term = facts.termination
    if term is None:
        return []
    if not term.confirmed:
        return [
            SweepAction(
                SweepKind.ELIGIBLE,
                facts.contract_id,
                term.clause,
                f"{term.kind} termination awaits an operator's confirmation",
                term.effective_on,
                f"termination:{term.termination_id}:eligible",
                automatic=False,
                termination_id=term.termination_id,
                termination_kind=term.kind,
            )
        ]
    # A customer's requested day is its last day of service (Art. 20(2)); the others end at once.
    due = term.kind != TerminationKind.CUSTOMER_REQUEST or as_of > term.effective_on
    if not due:
        return []
    return [
        SweepAction(
            SweepKind.TERMINATE,
            facts.contract_id,
            term.clause,
            f"{term.kind} termination is due",
            term.effective_on,
            f"termination:{term.termination_id}:start",
            termination_id=term.termination_id,
            termination_kind=term.kind,
        )
    ]


def nonpayment_input(facts: ContractFacts, as_of: date, policy: Policy) -> NonpaymentFacts:
    """The terms' view of the arrears: while restricted, only invoices whose own restriction day passed
    count (paying those in full lifts the block, Art. 16(5)); otherwise every invoice past its due date."""
    block = facts.nonpayment_block
    since = seoul_day(block.started_at) if block else None
    unpaid = [
        UnpaidInvoice(str(i.invoice_id), i.due, i.unpaid, i.extension_until, i.restrict_not_before)
        for i in facts.invoices
        if i.due < as_of
    ]
    if since is not None:
        unpaid = [i for i in unpaid if invoice_restriction_day(i, policy=policy)[0] <= as_of]
    return NonpaymentFacts(
        contract_id=str(facts.contract_id), invoices=unpaid, as_of=as_of, restricted_since=since
    )


def _nonpayment(facts: ContractFacts, as_of: date, policy: Policy) -> list[SweepAction]:
    block = facts.nonpayment_block
    out: list[SweepAction] = []
    for action in decide_nonpayment(nonpayment_input(facts, as_of, policy), policy=policy):
        ids = tuple(int(i) for i in action.invoice_ids)
        if (
            action.kind == ActionKind.TERMINATE
            and facts.termination is not None
            and facts.termination.confirmed
        ):
            continue  # already decided; listed by _pending_termination (an unconfirmed proposal is not)
        terminate = SweepKind.TERMINATE if action.automatic else SweepKind.ELIGIBLE
        kind = {
            ActionKind.RESTRICT: SweepKind.RESTRICT,
            ActionKind.LIFT: SweepKind.LIFT,
            ActionKind.NOTIFY: SweepKind.NOTIFY,
            ActionKind.TERMINATE: terminate,
        }[action.kind]
        out.append(
            SweepAction(
                kind,
                facts.contract_id,
                str(action.clause),
                action.reason,
                action.deadline,
                action.key,
                automatic=action.automatic,
                notice=action.notice,
                invoice_ids=ids,
                block_id=block.block_id if block else None,
                termination_kind=TerminationKind.NONPAYMENT if action.kind == ActionKind.TERMINATE else None,
                counting=action.counting,
            )
        )
    return out


def _blocks(facts: ContractFacts, as_of: date, at: datetime, policy: Policy | None) -> list[SweepAction]:
    out: list[SweepAction] = []
    for block in facts.blocks:
        if block.started_at > at:
            continue  # announced in advance (Art. 16(4)); not in force yet
        unenforced = facts.state == ContractState.ACTIVE or (block.scope == "full" and facts.servers.running)
        if unenforced:
            out.append(
                SweepAction(
                    SweepKind.ENFORCE_BLOCK,
                    facts.contract_id,
                    block.clause,
                    f"{block.kind} block {block.block_id} ({block.scope}) is in force",
                    seoul_day(block.started_at),
                    f"block:{block.block_id}:enforce:{as_of}",
                    block_id=block.block_id,
                )
            )
        if block.kind == "nonpayment" or block.item is None or block.planned_end is None or policy is None:
            continue  # emergencies (Art. 16(1)) carry no cure period; without the policy, no cure deadline
        if facts.termination is not None:
            continue
        uncured = RestrictionFacts(
            str(block.block_id),
            str(facts.contract_id),
            block.item,
            seoul_day(block.started_at),
            seoul_day(block.planned_end),
            resolved=False,
            as_of=as_of,
        )
        for action in decide_uncured_restriction(uncured, policy):
            kind = SweepKind.ELIGIBLE if action.kind == ActionKind.TERMINATE else SweepKind.NOTIFY
            out.append(
                SweepAction(
                    kind,
                    facts.contract_id,
                    str(action.clause),
                    action.reason,
                    action.deadline,
                    action.key,
                    automatic=False,
                    notice=action.notice,
                    block_id=block.block_id,
                    termination_kind=TerminationKind.CURE_FAILED,
                )
            )
    return out
