"""Lotse notify: tells receiving institutions of the referrals addressed to them, through the channels they
chose (webhook, e-mail, inbox), and reports delivery back to routing. Work in progress (issue 5)."""
