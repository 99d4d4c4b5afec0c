// The helpers live in src/Testing.ts so other packages' tests can share them.
export * from "../src/Testing.js"
