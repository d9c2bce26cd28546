"""Catalogue import and export: the spreadsheets centres keep, in and out.

- `fields`: the columns of each entity (lab, competence, equipment, service), shared by import
  and export, so that an export can be imported again;
- `reading`: a CSV (UTF-8, UTF-8 with BOM, Windows-1252; `;` or `,`) or XLSX file as a header
  and rows of text;
- `mapping`: which column is which field, guessed from Italian or English headers or given;
- `convert`: a row of text as the payload the catalogue's input schemas validate, each
  problem named by row and column;
- `exporting`: the published catalogue as CSV, XLSX and JSON; `cerif`: equipment as
  OpenAIRE CERIF-XML;
- `jobs`: import jobs in the catalogue's database, run by any replica.
"""
