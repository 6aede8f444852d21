import neostandard from 'neostandard'

/** Layers point one way: routes and lib never reach into plugins/, and lib/ never into Fastify. */
const noPlugins = { group: ['**/plugins/*'], message: 'routes/ and lib/ import from lib/, never from plugins/' }
const noApp = { group: ['**/app.js'], message: 'only the host entry points import app.ts' }

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'coverage/**', 'bench-results/**', '.tap/**'] }),
  {
    rules: {
      'max-len': ['error', { code: 140, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true }]
    }
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
