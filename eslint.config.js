import js from "@eslint/js"
import tseslint from "typescript-eslint"

export default tseslint.config(
  { ignores: ["**/dist/**", "**/.tsbuild/**", "**/node_modules/**", ".data/**", "coverage/**", "**/generated/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-empty-object-type": "off",
      "@typescript-eslint/no-namespace": "off",
      "require-yield": "off",
      "no-console": "off"
    }
  },
  {
    // the packages' index modules load every module of the package: @effect/platform's alone holds about
    // 20 MB of bundled documentation UIs (Scalar, Swagger) as strings, in the heap of every process
    files: ["packages/*/src/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: ["@effect/platform", "@effect/platform-node", "@effect/sql", "@effect/opentelemetry"].map((name) => ({
            name,
            message: `import the module itself ("${name}/<Module>"), not the package index`
          }))
        }
      ]
    }
  }
)
