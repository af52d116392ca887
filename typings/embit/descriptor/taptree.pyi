from embit.descriptor.miniscript import Miniscript

class TapLeaf:
    miniscript: Miniscript

class TapTree:
    tree: TapLeaf
