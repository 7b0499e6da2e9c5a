#!/usr/bin/env bash
# scaffold.sh KIND NAME TAG: create an Nx project (lib|app) with lint, typecheck and test targets.
set -euo pipefail
kind=$1 name=$2 tag=$3
case "$kind" in lib) root=libs/$name; ptype=library;; app) root=apps/$name; ptype=application;; tool) root=tools/$name; ptype=application;; *) exit 2;; esac
mkdir -p "$root/src"
rel=$(realpath --relative-to="$root" .)
cat >"$root/project.json" <<JSON
{
  "name": "$name",
  "\$schema": "$rel/node_modules/nx/schemas/project-schema.json",
  "sourceRoot": "$root/src",
  "projectType": "$ptype",
  "tags": ["$tag"],
  "targets": { "lint": {}, "typecheck": {}, "test": {}, "build": {} }
}
JSON
cat >"$root/tsconfig.json" <<JSON
{
  "extends": "$rel/tsconfig.base.json",
  "compilerOptions": { "noEmit": true, "types": ["node", "jest"] },
  "include": ["src/**/*.ts", "test/**/*.ts"]
}
JSON
cat >"$root/jest.config.cjs" <<JS
module.exports = {
  ...require('$rel/jest.preset.js'),
  displayName: '$name',
  rootDir: __dirname,
};
JS
[ -f "$root/src/index.ts" ] || echo "export {};" >"$root/src/index.ts"
if [ "$kind" = lib ]; then
  node -e '
    const fs=require("fs");const f="tsconfig.base.json";const j=JSON.parse(fs.readFileSync(f,"utf8"));
    j.compilerOptions.paths["@stevedore/'"$name"'"]=["'"$root"'/src/index.ts"];
    const sorted={};for(const k of Object.keys(j.compilerOptions.paths).sort())sorted[k]=j.compilerOptions.paths[k];
    j.compilerOptions.paths=sorted;fs.writeFileSync(f,JSON.stringify(j,null,2)+"\n");'
fi
echo "$root"
