"""What the directory does: each module one job, owning its transactions."""
