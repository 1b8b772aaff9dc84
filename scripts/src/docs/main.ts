/**
 * `npm run docs`: writes the generated reference pages (configuration, error codes, routes) into
 * docs/reference/. CI fails when a checked-in page differs from what this writes.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { generatedPages } from './generatedPages.ts'
import { repositoryRoot } from './repositoryRoot.ts'

for (const [path, content] of Object.entries(await generatedPages())) {
  const target = join(repositoryRoot, path)
  mkdirSync(dirname(target), { recursive: true })
  writeFileSync(target, content)
  process.stdout.write(`wrote ${path}\n`)
}
process.exit(0)
