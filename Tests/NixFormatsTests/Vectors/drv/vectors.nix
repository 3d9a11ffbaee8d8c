let sys = "x86_64-linux";
  mkfod = script: derivation { name = "fod.txt"; system = sys; builder = "/bin/sh"; args = [ "-c" script ]; outputHashMode = "flat"; outputHashAlgo = "sha256"; outputHash = "sha256-DDBxQY5jVuYUiYyE7QZMqV6IVRvAgRtTS98ZUuza5TQ="; };
  consumer = fod: derivation { name = "consumer"; system = sys; builder = "/bin/sh"; args = [ "-c" "read y < ${fod}; echo $y > $out" ]; };
in rec {
  simple = derivation { name = "simple"; system = sys; builder = "/bin/sh"; args = [ "-c" "echo simple > $out" ]; };
  src = builtins.toFile "script.sh" "echo from script\n";
  fod = mkfod "echo fixed > $out";
  fodr = derivation { name = "fodr"; system = sys; builder = "/bin/sh"; args = [ "-c" "echo fixed > $out" ]; outputHashMode = "recursive"; outputHashAlgo = "sha256"; outputHash = "sha256-N8z8zjE1gJtQA9jNt9BzmdII3NGO59dM4e9+iSUVwx8="; };
  multi = derivation { name = "multi"; system = sys; builder = "/bin/sh"; outputs = [ "out" "dev" ];
    args = [ "-c" ". ${src}; read x < ${simple}; read y < ${fod}; echo \"$x $y\" > $out; echo dev > $dev" ];
    weird = "quote\" backslash\\ nl\n tab\t cr\r utf8 é ☃ dollar$"; };
  c1 = consumer (mkfod "echo fixed > $out");
  c2 = consumer (mkfod "printf 'fixed\\n' > $out");
  esc = derivation { name = "esc"; system = sys; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; ctl = builtins.fromJSON "\"a\\u0001b\\u007fc\\u00e9d\\u0008e\\u000bf\""; "key with \"quote\"" = "v"; Zupper = "sorted before lowercase"; };
  caA = derivation { name = "ca-a"; system = sys; builder = "/bin/sh"; args = [ "-c" "echo \"I am $out\" > $out" ]; __contentAddressed = true; outputHashMode = "recursive"; outputHashAlgo = "sha256"; };
  caB = derivation { name = "ca-b"; system = sys; builder = "/bin/sh"; args = [ "-c" "read x < ${caA}; echo \"B got [$x] from ${caA}\" > $out" ]; dep = caA; __contentAddressed = true; outputHashMode = "recursive"; outputHashAlgo = "sha256"; };
  iaOnCa = derivation { name = "ia-on-ca"; system = sys; builder = "/bin/sh"; args = [ "-c" "read x < ${caA}; echo \"$x\" > $out" ]; };
}
