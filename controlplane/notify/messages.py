"""The words of each notice (Art. 13): subject and body, built from plain facts, citing the clause."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from controlplane.terms.money import format_won


@dataclass(frozen=True, slots=True)
class NoticeDraft:
    kind: str
    clause: str
    subject: str
    body: str


def approval_notice(
    *, contract_id: int, plan: str, open_date: date, monthly_fee: int, discount: int, terms_version: str
) -> NoticeDraft:
    """Art. 7(2): the approval names the open date, the fees, the customer's rights and duties."""
    body = (
        f"Your application for contract {contract_id} ({plan}) is approved.\n"
        f"Service opens on {open_date.isoformat()}.\n"
        f"Monthly fee: {format_won(monthly_fee)} (agreed discount {format_won(discount)}), VAT separate.\n"
        f"Terms version {terms_version} applies. You may postpone the open date with notice at least\n"
        "3 days before it (Art. 9(2)), dispute an invoice within 15 days of receiving it (Art. 35), and\n"
        "terminate with 7 days notice (Art. 20(2)).\n"
    )
    return NoticeDraft("approval", "Art. 7(2)", f"[D-Cloud] Contract {contract_id} approved", body)


def later_opening_notice(*, contract_id: int, desired: date, open_date: date, reason: str) -> NoticeDraft:
    """Art. 9(1), 23(1), 13: an opening later than the desired date sends the reason and the new date."""
    body = (
        f"Contract {contract_id} opens on {open_date.isoformat()}, later than the desired open date "
        f"{desired.isoformat()}.\nReason: {reason}\n"
    )
    return NoticeDraft(
        "later_opening",
        "Art. 9(1)",
        f"[D-Cloud] Contract {contract_id} opens on {open_date.isoformat()}",
        body,
    )


def invoice_notice(
    *, contract_id: int, month: str, supply: int, vat: int, total: int, due: date
) -> NoticeDraft:
    """Art. 31(1): the invoice for a month of use, due the last day of the following month."""
    body = (
        f"Invoice for contract {contract_id}, month of use {month}.\n"
        f"Supply amount {format_won(supply)}, VAT {format_won(vat)} (Art. 32(5)), "
        f"total {format_won(total)}.\n"
        f"Due on {due.isoformat()}. Amounts unpaid after that date bear a late fee (Art. 34).\n"
    )
    return NoticeDraft("invoice", "Art. 31(1)", f"[D-Cloud] Invoice {month} for contract {contract_id}", body)


def refund_notice(*, customer_id: int, amount: int, arrears_deducted: int) -> NoticeDraft:
    """Art. 35: a refund of credit on request, arrears deducted first."""
    body = (
        f"A refund of {format_won(amount)} has been issued to customer {customer_id}.\n"
        f"Arrears deducted first: {format_won(arrears_deducted)} (Art. 35).\n"
    )
    return NoticeDraft("refund", "Art. 35", "[D-Cloud] Refund issued", body)


def credit_notice(*, customer_id: int, amount: int) -> NoticeDraft:
    """Art. 35: an overpayment is kept as credit that offsets the next invoices."""
    body = (
        f"Customer {customer_id} overpaid by {format_won(amount)}. The amount is kept as credit and\n"
        "offsets your next invoices; you may ask for a refund instead (Art. 35).\n"
    )
    return NoticeDraft("credit", "Art. 35", "[D-Cloud] Credit on your account", body)


def termination_refund_notice(*, contract_id: int, amount: int) -> NoticeDraft:
    """Art. 20(7): the unused annual prepayment, credited when the terminated contract has ended."""
    body = (
        f"Contract {contract_id} has ended. The refund of your annual prepayment, {format_won(amount)},\n"
        "is credited to your account (Art. 20(7)). It offsets your next invoices, or you may ask for it\n"
        "to be paid out; any arrears are deducted first (Art. 35).\n"
    )
    return NoticeDraft("refund", "Art. 20(7)", f"[D-Cloud] Refund for contract {contract_id}", body)


def terms_change_notice(
    *, contract_id: int, version: str, effective_from: date, unfavourable: bool, current_version: str
) -> NoticeDraft:
    """Art. 3(2),(3): a new terms version, announced ahead; silence until it applies is consent."""
    body = (
        f"New terms version {version} applies from {effective_from.isoformat()}"
        f"{' and is less favourable to you' if unfavourable else ''}.\n"
        f"Contract {contract_id} is on version {current_version}. If you do not object before "
        f"{effective_from.isoformat()}, you are deemed to consent (Art. 3(3)).\n"
        "If you object, you keep your current version until the end of your term; to renew after it you\n"
        "must accept the new version, otherwise the contract ends with the term (Art. 3(4)).\n"
    )
    return NoticeDraft(
        "terms_change",
        "Art. 3(3)",
        f"[D-Cloud] Terms version {version} from {effective_from.isoformat()}",
        body,
    )


def terms_version_renewal_notice(
    *, contract_id: int, old_version: str, new_version: str, term_start: date
) -> NoticeDraft:
    """Art. 3(3), 18: a renewed contract moves onto the terms version in force when its term starts."""
    body = (
        f"Contract {contract_id} renewed on {term_start.isoformat()} under terms version {new_version}\n"
        f"(previously {old_version}), as you did not object to it (Art. 3(3)).\n"
    )
    return NoticeDraft(
        "terms_version", "Art. 3(3)", f"[D-Cloud] Contract {contract_id} now under terms {new_version}", body
    )
