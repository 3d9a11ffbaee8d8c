# Instantiates the random derivations described by a JSON spec (see drvgen.py).
# String values are either plain strings or lists of segments:
#   "text" | { drv = id; out = name; } | { src = index; } | { placeholder = name; } | { file = "/abs"; }
{ specFile }:
let
  spec = builtins.fromJSON (builtins.readFile specFile);
  str = v: if builtins.isList v then builtins.concatStringsSep "" (map seg v) else v;
  seg = p:
    if builtins.isString p then p
    else if p ? drv then "${builtins.getAttr p.out drvs.${p.drv}}"
    else if p ? src then "${builtins.elemAt srcs p.src}"
    else if p ? placeholder then builtins.placeholder p.placeholder
    else if p ? file then builtins.readFile p.file
    else throw "bad segment";
  srcs = builtins.genList
    (i: let s = builtins.elemAt spec.srcs i; in builtins.toFile s.name (str s.content))
    (builtins.length spec.srcs);
  mk = d: derivation ({
    inherit (d) name;
    system = spec.system;
    builder = "/bin/sh";
    args = map str d.args;
  } // builtins.mapAttrs (_: str) d.env // d.extra);
  drvs = builtins.listToAttrs (map (d: { name = d.id; value = mk d; }) spec.drvs);
in builtins.mapAttrs (_: d: d.drvPath) drvs
