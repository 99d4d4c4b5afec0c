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
  },
  {
    // every environment variable is read, typed and validated in one place: infra/src/Config.ts (the
    // server then fails on a bad value before it touches anything, naming the variable)
    files: ["packages/*/src/**/*.ts"],
    ignores: ["packages/infra/src/Config.ts", "packages/infra/src/Testing.ts"],
    rules: {
      "no-restricted-properties": [
        "error",
        { object: "process", property: "env", message: "read environment variables in packages/infra/src/Config.ts" }
      ],
      "no-restricted-syntax": [
        "error",
        {
          selector:
            "MemberExpression[object.name='Config'][property.name=/^(string|nonEmptyString|integer|number|boolean|redacted|secret|duration|literal|url|port|date|logLevel|array|hashMap|hashSet|chunk)$/]",
          message: "read environment variables in packages/infra/src/Config.ts"
        }
      ]
    }
  }
)
