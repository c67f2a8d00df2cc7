// validate.js - check rendered Kubernetes manifests against the Kubernetes
// OpenAPI schemas (npm kubernetes-models + @kubernetes-models/validate).
// Reads a JSON array of objects on stdin (tests/deploy/check.sh converts the
// `kubectl kustomize` YAML); prints one line per object; exits 1 on the
// first invalid or unknown object.
"use strict";

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (c) => { input += c; });
process.stdin.on("end", () => {
  const objs = JSON.parse(input);
  let bad = 0;
  if (!Array.isArray(objs) || objs.length === 0) {
    console.error("validate: no objects");
    process.exit(1);
  }
  for (const obj of objs) {
    const what = `${obj.apiVersion} ${obj.kind} ${obj.metadata && obj.metadata.name}`;
    const av = String(obj.apiVersion || "");
    const mod = av.includes("/") ? av : `v1`;
    let Model;
    try {
      Model = require(`kubernetes-models/${mod}/${obj.kind}`)[obj.kind];
    } catch (e) {
      console.error(`not ok ${what}: no schema (${e.code || e.message})`);
      bad++;
      continue;
    }
    if (!Model) {
      console.error(`not ok ${what}: no model`);
      bad++;
      continue;
    }
    // kustomize wraps long base64 values in a literal block (newlines every
    // 76 characters); Kubernetes' decoder (Go's encoding/base64) skips \r and
    // \n, the schema's "byte" pattern does not: compare what the API decodes
    if (obj.kind === "Secret" && obj.data) {
      for (const k of Object.keys(obj.data)) obj.data[k] = String(obj.data[k]).replace(/[\r\n]/g, "");
    }
    try {
      new Model(obj).validate();
      console.log(`ok ${what}`);
    } catch (e) {
      console.error(`not ok ${what}: ${e.message}`);
      bad++;
    }
  }
  console.log(`${objs.length - bad} valid, ${bad} invalid`);
  process.exit(bad ? 1 : 0);
});
