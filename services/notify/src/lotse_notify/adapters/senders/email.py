"""E-mail delivery over SMTP: German text, no personal data, a link into the system."""

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from lotse_notify.domain.channels import Channel
from lotse_notify.domain.delivery import Attempt
from lotse_notify.domain.messages import Notice, email_text


class SmtpSender:
    """One SMTP session per attempt. A ``5xx`` refusal of the address means it is gone (as a webhook's ``410``);
    anything else that fails is tried again later. The Message-ID is the delivery's id on every attempt, so a
    mail system can recognise a repeat."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        user: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.user = user
        self.password = password
        self.starttls = starttls
        self.timeout = timeout

    def send(self, channel: Channel, notice: Notice) -> Attempt:
        subject, text = email_text(notice)
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = channel.target
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = f"<{notice.delivery_id}@lotse.notify>"
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(text)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code = min(code for code, _ in exc.recipients.values())
            return Attempt(ok=False, detail=f"SMTP {code}: Adresse abgelehnt", status=code, gone=code >= 500)
        except (smtplib.SMTPException, OSError) as exc:
            return Attempt(ok=False, detail=f"SMTP: {type(exc).__name__}")
        return Attempt(ok=True, detail="SMTP 250")
