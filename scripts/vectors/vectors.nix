# Fixed (deterministic) derivations for the committed golden vectors.
# Instantiated and built by scripts/gen-vectors.sh with real Nix 2.8.
# `h` holds the correct output hashes of "fixed\n" (flat) and of its NAR (recursive),
# computed by scripts/vectors/gen.py, so that every FOD here really builds.
{ h }:
let
  sys = builtins.currentSystem;
  tag = "vouch-vectors-v2";  # bump after editing this file (see README: stale derivers)
  mk = a: derivation ({ system = sys; builder = "/bin/sh"; } // a);
  ca = a: mk ({ __contentAddressed = true; outputHashMode = "recursive"; outputHashAlgo = "sha256"; } // a);
  fod = name: algo: mode: hash: mk {
    inherit name;
    args = [ "-c" "echo fixed > $out" ];
    outputHashMode = mode; outputHashAlgo = algo; outputHash = hash;
  };
  script = builtins.toFile "script.sh" "echo from script ${tag}\n";
  textA = builtins.toFile "text-a" "aaa ${tag}";
  textB = builtins.toFile "text-b" "refers to ${textA}\n";
in rec {
  simple = mk { name = "simple"; args = [ "-c" "echo simple ${tag} > $out" ]; };

  fod-sha256-flat-sri = fod "fod-sha256-flat" "sha256" "flat" h.sha256.flat.sri;
  fod-sha256-rec-sri = fod "fod-sha256-rec" "sha256" "recursive" h.sha256.recursive.sri;
  fod-sha1-flat-b16 = fod "fod-sha1-flat" "sha1" "flat" h.sha1.flat.base16;
  fod-sha1-rec-nix32 = fod "fod-sha1-rec" "sha1" "recursive" h.sha1.recursive.nix32;
  fod-sha512-flat-b64 = fod "fod-sha512-flat" "sha512" "flat" h.sha512.flat.base64;
  fod-sha512-rec-sri = fod "fod-sha512-rec" "sha512" "recursive" h.sha512.recursive.sri;
  fod-md5-flat-nix32 = fod "fod-md5-flat" "md5" "flat" h.md5.flat.nix32;
  fod-md5-rec-b16 = fod "fod-md5-rec" "md5" "recursive" h.md5.recursive.base16;
  # same output as fod-sha256-flat-sri, different drv (FOD swap; see NIX-FORMATS §3.6)
  fod-sha256-flat-printf = mk {
    name = "fod-sha256-flat"; args = [ "-c" "printf 'fixed\\n' > $out" ];
    outputHashMode = "flat"; outputHashAlgo = "sha256"; outputHash = h.sha256.flat.sri;
  };
  # FOD with an input derivation
  fod-with-input = mk {
    name = "fod-with-input"; args = [ "-c" "read x < ${simple}; echo fixed > $out" ];
    outputHashAlgo = "sha256"; outputHash = h.sha256.flat.base16;
  };

  consumer = mk { name = "consumer"; args = [ "-c" "read y < ${fod-sha256-flat-sri}; echo $y > $out" ]; };
  consumer-printf = mk { name = "consumer"; args = [ "-c" "read y < ${fod-sha256-flat-printf}; echo $y > $out" ]; };

  multi = mk {
    name = "multi"; outputs = [ "out" "dev" "lib" ];
    args = [ "-c" ". ${script}; read x < ${simple}; read y < ${fod-sha256-flat-sri}; echo \"$x $y\" > $out; echo dev > $dev; echo \"lib of $out\" > $lib" ];
    weird = "quote\" backslash\\ nl\n tab\t cr\r utf8 é ☃ dollar$ ${tag}";
  };

  esc = mk {
    name = "esc"; args = [ "-c" "echo > $out" "arg with \"quotes\" and \\ and \n newline" ];
    ctl = builtins.fromJSON "\"a\\u0001b\\u007fc\\u00e9d\\u0008e\\u000bf\\u001bg\\u2028h\\ud83c\\udf89\"";
    "key with \"quote\"" = "v";
    Zupper = "sorted before lowercase";
    "" = "empty key";
    tag = tag;
  };

  typed = mk {
    name = "typed"; args = [ "-c" "echo typed > $out" ];
    anInt = 42; negative = -7; aTrue = true; aFalse = false; aNull = null;
    aList = [ "x" 1 true "y z" null ]; aPath = "${textB}";
  };

  ignore-nulls = mk {
    name = "ignore-nulls"; args = [ "-c" "echo n > $out" ];
    __ignoreNulls = true; dropped = null; kept = "yes";
  };

  structured = mk {
    name = "structured"; outputs = [ "out" "doc" ];
    args = [ "-c" "echo s > $out; echo d > $doc" ];
    __structuredAttrs = true;
    nested = { list = [ 1 "two" null { "é" = "\"q\"\n"; } ]; bool = false; dep = "${simple}"; };
  };

  placeholders = mk {
    name = "placeholders"; outputs = [ "out" "bin" ];
    args = [ "-c" "echo ${builtins.placeholder "bin"} > $out; echo bin > $bin" ];
    selfBin = builtins.placeholder "bin";
    texts = "${textB}";
  };

  long-name = mk {
    name = "n${builtins.concatStringsSep "" (builtins.genList (_: "0123456789") 20)}";
    args = [ "-c" "echo long > $out" ];
  };

  caA = ca { name = "ca-a"; args = [ "-c" "echo \"I am $out ${tag}\" > $out" ]; };
  caB = ca {
    name = "ca-b"; dep = caA;
    args = [ "-c" "read x < ${caA}; echo \"B got [$x] from ${caA}\" > $out" ];
  };
  caM = ca {
    name = "ca-m"; outputs = [ "out" "dev" ];
    args = [ "-c" "echo lib ${tag} > $out; echo \"headers for $out\" > $dev" ];
  };
  caU = ca { name = "ca-u"; args = [ "-c" "read x < ${caM.dev}; echo \"$x\" > $out" ]; };
  caFlatSha512 = ca {
    name = "ca-flat-sha512"; outputHashMode = "flat"; outputHashAlgo = "sha512";
    args = [ "-c" "read x < ${caA}; echo \"flat \${#x} ${tag}\" > $out" ];
  };
  iaOnCa = mk { name = "ia-on-ca"; args = [ "-c" "read x < ${caA}; echo \"$x\" > $out" ]; };
  caMixed = ca {
    name = "ca-mixed"; outputs = [ "out" "doc" ];
    args = [ "-c" "read a < ${simple}; read b < ${fod-sha1-flat-b16}; read c < ${caM}; read d < ${iaOnCa}; echo \"$a $b $c $d\" > $out; echo doc ${tag} > $doc" ];
  };
  iaDeep = mk {
    name = "ia-deep"; outputs = [ "out" "bin" ];
    args = [ "-c" "read x < ${caU}; read y < ${caMixed.doc}; echo \"$x $y\" > $out; echo bin ${tag} > $bin" ];
  };
}
