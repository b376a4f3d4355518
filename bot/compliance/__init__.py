"""Compliance policy that comes from the debtor (contact requests) and from the packs' data rules."""
