; The Windows installer of Corolla (NSIS 3). docs/building-windows.md makes the staging folder
; it packs: `cmake --install`, then windeployqt and libtorch's DLLs beside corolla.exe.
;   makensis /DVERSION=0.1.0 /DSTAGING=C:\path\to\stage packaging\windows\corolla.nsi
; It installs for all users into Program Files, adds a Start-menu entry, lets the user choose
; start at login (off unless ticked) and a firewall rule, and registers an uninstaller that
; removes everything it installed and asks before deleting the user's own data.

Unicode true
!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "x64.nsh"

!ifndef VERSION
  !error "pass /DVERSION=x.y.z"
!endif
!ifndef STAGING
  !error "pass /DSTAGING=folder holding corolla.exe and its DLLs"
!endif
!ifndef OUTFILE
  !define OUTFILE "corolla-${VERSION}-windows-x64.exe"
!endif

!define APP "Corolla"
!define EXE "corolla.exe"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP}"
; The same value the app's "Start at login" setting writes (ui/autostart.cpp).
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define FIREWALL_RULE "Corolla swarm peer"

Name "${APP} ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\${APP}"
InstallDirRegKey HKLM "${UNINSTALL_KEY}" "InstallLocation"
RequestExecutionLevel admin
SetCompressor /SOLID lzma

!define MUI_ICON "${STAGING}\corolla.ico"
!define MUI_UNICON "${STAGING}\corolla.ico"
!define MUI_ABORTWARNING
!define MUI_COMPONENTSPAGE_SMALLDESC
!define MUI_FINISHPAGE_RUN "$INSTDIR\${EXE}"
!define MUI_FINISHPAGE_RUN_TEXT "Start Corolla"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"
!insertmacro MUI_LANGUAGE "SimpChinese"

LangString DESC_Core ${LANG_ENGLISH} "The Corolla app and its libraries."
LangString DESC_Core ${LANG_SIMPCHINESE} "Corolla 应用及其程序库。"
LangString DESC_Firewall ${LANG_ENGLISH} "Let peers of the swarm reach Corolla through Windows Firewall (needed to serve blocks)."
LangString DESC_Firewall ${LANG_SIMPCHINESE} "允许集群中的节点穿过 Windows 防火墙连接 Corolla（提供块服务时需要）。"
LangString DESC_Login ${LANG_ENGLISH} "Start Corolla in the tray when you log in. The app's settings can change this later."
LangString DESC_Login ${LANG_SIMPCHINESE} "登录时在托盘中启动 Corolla。之后可在应用设置中更改。"
LangString ASK_RemoveData ${LANG_ENGLISH} "Also delete your Corolla data (settings, conversations and this computer's swarm identity)? Downloaded models in the Hugging Face cache are kept."
LangString ASK_RemoveData ${LANG_SIMPCHINESE} "同时删除你的 Corolla 数据（设置、对话和本机的集群身份）吗？Hugging Face 缓存中已下载的模型会保留。"

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "Corolla needs 64-bit Windows."
    Abort
  ${EndIf}
  SetRegView 64
FunctionEnd

Section "Corolla" SecCore
  SectionIn RO
  SetOutPath "$INSTDIR"
  File /r "${STAGING}\*.*"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  SetShellVarContext all
  CreateShortcut "$SMPROGRAMS\${APP}.lnk" "$INSTDIR\${EXE}" "" "$INSTDIR\corolla.ico"

  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayName" "${APP}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "Publisher" "${APP}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\corolla.ico"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoRepair" 1
SectionEnd

; A rule for the program rather than one port: a server listens on the port it is given (any
; free one by default), and its DHT node and LAN discovery use UDP ports of their own.
Section "Windows Firewall rule" SecFirewall
  nsExec::ExecToLog 'netsh advfirewall firewall delete rule name="${FIREWALL_RULE}"'
  Pop $0
  nsExec::ExecToLog 'netsh advfirewall firewall add rule name="${FIREWALL_RULE}" dir=in action=allow program="$INSTDIR\${EXE}" protocol=TCP profile=private,domain enable=yes'
  Pop $0
  nsExec::ExecToLog 'netsh advfirewall firewall add rule name="${FIREWALL_RULE}" dir=in action=allow program="$INSTDIR\${EXE}" protocol=UDP profile=private,domain enable=yes'
  Pop $1
  ${If} $0 != 0
  ${OrIf} $1 != 0
    DetailPrint "netsh could not add the firewall rule ($0, $1); add it in Windows Security if serving fails."
  ${EndIf}
SectionEnd

; Off unless ticked: nothing runs at login unless the user asks for it.
Section /o "Start at login" SecLogin
  ; The installing user's own Run key, as the app writes it.
  WriteRegStr HKCU "${RUN_KEY}" "${APP}" '"$INSTDIR\${EXE}" --minimized'
SectionEnd

!insertmacro MUI_FUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${SecCore} $(DESC_Core)
  !insertmacro MUI_DESCRIPTION_TEXT ${SecFirewall} $(DESC_Firewall)
  !insertmacro MUI_DESCRIPTION_TEXT ${SecLogin} $(DESC_Login)
!insertmacro MUI_FUNCTION_DESCRIPTION_END

Function un.onInit
  SetRegView 64
FunctionEnd

Section "Uninstall"
  ; A running app holds its files open.
  nsExec::ExecToLog 'taskkill /IM ${EXE} /T'
  Pop $0
  Sleep 1000

  SetShellVarContext all
  Delete "$SMPROGRAMS\${APP}.lnk"
  DeleteRegValue HKCU "${RUN_KEY}" "${APP}"
  nsExec::ExecToLog 'netsh advfirewall firewall delete rule name="${FIREWALL_RULE}"'
  Pop $0
  DeleteRegKey HKLM "${UNINSTALL_KEY}"
  RMDir /r "$INSTDIR"

  ; The user's data, only when asked (silent uninstalls keep it).
  MessageBox MB_YESNO|MB_DEFBUTTON2|MB_ICONQUESTION "$(ASK_RemoveData)" /SD IDNO IDNO keep
    SetShellVarContext current
    RMDir /r "$APPDATA\${APP}"
    RMDir /r "$LOCALAPPDATA\${APP}"
    RMDir /r "$LOCALAPPDATA\cache\corolla"
  keep:
SectionEnd
