"""Delivery channels for notices (Art. 13): e-mail over SMTP and SMS behind a provider interface."""

from controlplane.notify.email import DeliveryFailed, EmailSender, SmtpSender
from controlplane.notify.sms import LoggingSmsProvider, SmsProvider

__all__ = ["DeliveryFailed", "EmailSender", "LoggingSmsProvider", "SmsProvider", "SmtpSender"]
