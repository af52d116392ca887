from embit.util import secp256k1 as secp256k1
