# A small closure for the demonstration: an input-addressed step, a floating content-addressed
# step on top of it and an input-addressed step on top of that (deferred until the CA step is
# realised). Only /bin/sh and coreutils from the host are used, so it builds without nixpkgs.
let
  sh = "/bin/sh";
  system = builtins.currentSystem;
  PATH = "/usr/bin:/bin";
  greeting = derivation {
    name = "greeting";
    inherit system PATH;
    builder = sh;
    args = [ "-c" "echo 'hello from a verified build' > $out" ];
  };
  message = derivation {
    name = "message";
    inherit system PATH;
    builder = sh;
    __contentAddressed = true;
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
    args = [ "-c" ''
      mkdir -p $out/share
      read line < ${greeting}
      printf '%s, twice: %s\n' "$line" "$line" > $out/share/message
    '' ];
  };
  app = derivation {
    name = "app";
    inherit system PATH;
    builder = sh;
    outputs = [ "out" "doc" ];
    args = [ "-c" ''
      mkdir -p $out/bin $doc
      printf '#!/bin/sh\ncat %s\n' ${message}/share/message > $out/bin/app
      echo 'app prints the message' > $doc/README
    '' ];
  };
in app
