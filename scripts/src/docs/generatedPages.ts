import { renderConfigurationReference } from './configurationReference.ts'
import { renderErrorsReference } from './errorsReference.ts'
import { loadOpenApiDocument, renderRoutesReference } from './routesReference.ts'

/** The generated reference pages, by their path from the repository's root. */
export async function generatedPages(): Promise<Record<string, string>> {
  return {
    'docs/reference/configuration.md': renderConfigurationReference(),
    'docs/reference/errors.md': renderErrorsReference(),
    'docs/reference/routes.md': renderRoutesReference(await loadOpenApiDocument()),
  }
}
