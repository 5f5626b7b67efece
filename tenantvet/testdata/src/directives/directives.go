package directives

//tenantshield:ignore rawsql a valid directive
//tenantshield:ignore bypassreason a valid directive
//tenantshield:ignore backgroundctx a valid directive
//tenantshield:ignorerawsql not a directive (no space)
// tenantshield:ignore rawsql not a directive (space after //)

//tenantshield:ignore rawsql // want `tenantignore: //tenantshield:ignore rawsql needs a reason after the check name`

//tenantshield:ignore rawsql      // want `needs a reason`

//tenantshield:ignore // want `tenantignore: //tenantshield:ignore needs a check`

//tenantshield:ignore sqlraw typo // want `tenantignore: //tenantshield:ignore names unknown check "sqlraw"`

func f() {
	x := 1 //tenantshield:ignore backgroundctx // want `needs a reason`
	_ = x
}
