package sqlguard
