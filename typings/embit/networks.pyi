# Each network's parameters (address prefixes, bech32 hrp...), by embit's network name.
NETWORKS: dict[str, dict[str, object]]
