"""What the tests share: graph builders, the bad-input corpus, rewrite models and case tables."""
