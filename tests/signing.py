"""A fixed Ed25519 key (seed 00 01 .. 1f), so signed test documents are reproducible."""

TEST_SIGNING_KEY = "z3u2RDpgFe6Voz19gxWsBkueKj6XiuC9w1bSBT4FTowsWk6A"
TEST_PUBLIC_KEY = "z6MkehRgf7yJbgaGfYsdoAsKdBPE3dj2CYhowQdcjqSJgvVd"
