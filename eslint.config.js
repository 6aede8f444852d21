import neostandard from 'neostandard'

/** Layers point one way: routes and lib never reach into plugins/, and lib/ never into Fastify. */
const noPlugins = { group: ['**/plugins/*'], message: 'routes/ and lib/ import from lib/, never from plugins/' }
const noApp = { group: ['**/app.js'], message: 'only the host entry points import app.ts' }

export default [
  { ignores: ['dist/**', 'coverage/**', 'bench-results/**', '.tap/**'] },
  ...neostandard({ ts: true }),
  {
    rules: {
      'max-len': ['error', { code: 140, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true }],
      // `void promise`: a promise deliberately not awaited, as a statement.
      'no-void': ['error', { allowAsStatement: true }]
    }
  },
  {
    // A TypeBox schema and its static type share one name: a value and a type, not a redeclaration.
    files: ['lib/protocol/schemas.ts', 'routes/**/*.ts'],
    rules: { '@typescript-eslint/no-redeclare': 'off' }
  },
  {
    files: ['public/**/*.js'],
    languageOptions: { globals: { window: 'readonly', document: 'readonly', location: 'readonly', CSS: 'readonly' } }
  },
  {
    files: ['routes/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noPlugins, noApp] }] }
  },
  {
    files: ['lib/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [noPlugins, noApp, { group: ['fastify', '@fastify/*', '!@fastify/error'], message: 'lib/ is plain TypeScript: no Fastify' }]
      }]
    }
  }
]
