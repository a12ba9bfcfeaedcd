// libxml2's streaming reader, for the STANAG 4774 label reader
// (Sources/LiaisonSealing/STANAG4774.swift says why it is used directly).
//
// Debian's libxml2 is built with ICU, and its headers would bring in the
// system's ICU headers, which clash with the copy inside Foundation. Liaison
// uses no ICU encoding handler, so that part of the headers is left out.
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/xmlreader.h>
