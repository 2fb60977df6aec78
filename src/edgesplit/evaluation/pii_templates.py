"""The templates of the labelled PII corpora (``evaluation/pii_corpus.py``): literal text and {TYPE} slots.

Kept apart from the generators so that each corpus's templates read in one place, in the order
they were written. What each corpus is, and which of them a detector may be tuned on, is in
``pii_corpus``'s docstring.
"""

from __future__ import annotations

__all__ = [
    "BLIND_TEMPLATES",
    "EN",
    "FIELD_TEMPLATES",
    "HOLDOUT_TEMPLATES",
    "INTAKE_TEMPLATES",
    "PT",
    "UNSEEN_TEMPLATES",
]

# The tuning corpus's templates: literal text and {TYPE} slots.
EN = [
    "Hi, I'm {PERSON}. You can reach me at {EMAIL_ADDRESS} or {PHONE_NUMBER}.",
    "Please update the card on file to {CREDIT_CARD}; my SSN is {US_SSN}.",
    "Patient {PERSON}, born on {DATE_OF_BIRTH}, MRN {MEDICAL_RECORD}, was scanned in {LOCATION} this morning.",
    "The device at {IP_ADDRESS} failed again. Ticket opened by {PERSON} ({EMAIL_ADDRESS}).",
    "Send the refund to {IBAN}, account holder {PERSON}.",
    "Ticket #4471: the printer on floor 3 shows error E-104 after the 2.3.1 update. Steps tried: power cycle, "
    "reseat the toner, clear the queue. Reporter {PERSON}, phone {PHONE_NUMBER}, site {LOCATION}. The unit's "
    "address is {IP_ADDRESS} and the warranty card was paid with {CREDIT_CARD}. Please call back before 5 pm, "
    "or email {EMAIL_ADDRESS}; DOB for verification: {DATE_OF_BIRTH}. Thanks for the quick help last time.",
    "How do I restart the scanner after a firmware update?",
    "What does error code 0x80070005 mean on version 10.0.19045?",
]
PT = [
    "Olá, meu nome é {PERSON}, meu CPF é {BR_CPF} e meu telefone é {PHONE_NUMBER}.",
    "A empresa com CNPJ {BR_CNPJ} pediu reembolso para a conta {IBAN}.",
    "Paciente {PERSON}, data de nascimento {DATE_OF_BIRTH}, prontuário {MEDICAL_RECORD}, de {LOCATION}.",
    "O equipamento em {IP_ADDRESS} parou de novo. Contato: {EMAIL_ADDRESS}.",
    "Chamado 2231: a impressora do terceiro andar mostra o erro E-104 depois da atualização 2.3.1. Já tentei "
    "desligar e ligar, trocar o toner e limpar a fila. Solicitante: {PERSON}, CPF {BR_CPF}, telefone "
    "{PHONE_NUMBER}, unidade de {LOCATION}. O endereço do equipamento é {IP_ADDRESS}. Para confirmar a "
    "identidade, data de nascimento {DATE_OF_BIRTH}. Podem responder para {EMAIL_ADDRESS}, obrigado.",
    "Como faço para reiniciar o scanner depois da atualização?",
    "Qual o prazo de entrega para o pedido 55123?",
]

# -- the unseen corpus: never tune a detector on these templates --------------------------------

UNSEEN_TEMPLATES: dict[str, list[str]] = {
    "en_US": [
        "Discharge summary: {PERSON}, MRN-{MEDICAL_RECORD}, admitted {DATE} and discharged {DATE2}. "
        "Follow-up with Dr. {PERSON2} at {PHONE_NUMBER}.",
        "Lab results for patient {PERSON} (birthdate {DOB_PLAIN}) came back on {DATE}; the specimen was "
        "drawn {DATE2}. Chart: MRN {MEDICAL_RECORD}.",
        "Work order 88-1192: the conveyor PLC at {IP_ADDRESS} faulted twice overnight. Technician {PERSON} "
        "replaced the relay. Call the plant office at {PHONE_NUMBER} with questions.",
        "Billing: please charge {CREDIT_CARD} for the March invoice and send the receipt to {EMAIL_ADDRESS}. "
        "Cardholder {PERSON}, {ADDRESS}.",
        "HR update: {PERSON} (SSN {US_SSN}) starts Monday; emergency contact {PERSON2}, {PHONE_NUMBER}.",
        "Radiology report dated {DATE} for {PERSON}, MRN: {MEDICAL_RECORD}. Prior study on {DATE2} showed no change.",
        "Ship the replacement scanner to {PERSON}, {ADDRESS}; they can be reached at {EMAIL_ADDRESS}.",
        "What is the difference between TCP and UDP, and when should a PLC use each?",
        "Who founded Microsoft, and in which city is its headquarters?",
        "The 4.2 firmware released on {NONPERSONAL_DATE} fixes the calibration drift on model X-300 units.",
    ],
    "en_GB": [
        "Clinic letter: {PERSON}, seen in outpatients on {DATE}, medical record no. {MEDICAL_RECORD}. "
        "Next appointment {DATE2}. Surgery telephone {PHONE_NUMBER}.",
        "Engineer {PERSON} attended site at {ADDRESS} on {DATE}; boiler serviced. Customer mobile {PHONE_NUMBER}.",
        "Refund of £42.50 to account {IBAN}, account holder {PERSON}. Queries to {EMAIL_ADDRESS}.",
        "Patient {PERSON}, {DOB_PLAIN}, referred by GP on {DATE}. MRN#{MEDICAL_RECORD}.",
        "The VPN gateway {IP_ADDRESS} drops connections after the update; ticket raised by {PERSON}.",
        "Which is longer, the Thames or the Severn, and where do they rise?",
        "How do I reset a Siemens S7-1200 to factory settings?",
    ],
    "pt_BR": [
        "Resumo de alta: paciente {PERSON}, prontuário nº {MEDICAL_RECORD}, internado em {DATE} e com alta em "
        "{DATE2}. Contato da família: {PHONE_NUMBER}.",
        "Laudo de exame de {PERSON}, nascimento: {DOB_PLAIN}, realizado em {DATE}. CPF {BR_CPF}.",
        "Ordem de serviço 4471: o técnico {PERSON} trocou o sensor da linha 2 no dia {DATE}. "
        "Endereço do cliente: {ADDRESS}. Telefone {PHONE_NUMBER}.",
        "Cobrança: a empresa de CNPJ {BR_CNPJ} pagou a fatura; comprovante para {EMAIL_ADDRESS}. "
        "Responsável: {PERSON}, CPF {BR_CPF}.",
        "Transferir o reembolso para a conta {IBAN} em nome de {PERSON}.",
        "Consulta marcada para {DATE} com a Dra. {PERSON}; paciente {PERSON2}, prontuário {MEDICAL_RECORD}.",
        "Qual é a capital da Argentina e quantos habitantes ela tem?",
        "Como configuro o endereço IP fixo de um CLP da Siemens?",
    ],
}


HOLDOUT_TEMPLATES: dict[str, list[str]] = {
    "en_US": [
        "Claim #{CASE_NUMBER} was filed by {PERSON} after the accident on {DATE}. Policyholder lives at "
        "{ADDRESS}; best number {PHONE_NUMBER}.",
        "Rx refill for {PERSON}, DOB {DOB_PLAIN}: pharmacy called {PHONE_NUMBER} on {DATE}. Pay with {CREDIT_CARD}.",
        "Driver {PERSON} picked up pallet 7 at dock 4; delivery confirmation went to {EMAIL_ADDRESS}.",
        "The gateway at {IP_ADDRESS} rejected the login of {PERSON} three times; SSN on file {US_SSN}.",
        "Can you explain how a heat pump works in cold climates like Minnesota?",
    ],
    "en_GB": [
        "Please amend the direct debit for {PERSON} to {IBAN}; confirmation to {EMAIL_ADDRESS}.",
        "Home visit booked: {PERSON}, {ADDRESS}, on {DATE}. Mobile {PHONE_NUMBER}. Patient ID {MEDICAL_RECORD}.",
        "What time zone does Edinburgh use in summer?",
    ],
    "pt_BR": [
        "Sinistro aberto por {PERSON} em {DATE}; segurado com CPF {BR_CPF} e telefone {PHONE_NUMBER}.",
        "Receita de {PERSON} (nascimento {DOB_PLAIN}) aviada em {DATE}; registro do paciente {MEDICAL_RECORD}.",
        "Entrega para {PERSON} no endereço {ADDRESS}; nota fiscal da empresa {BR_CNPJ} enviada para {EMAIL_ADDRESS}.",
        "Quais são as regras de rodízio de veículos em São Paulo?",
    ],
}


BLIND_TEMPLATES: dict[str, list[str]] = {
    "en_US": [
        "Telehealth note: spoke with {PERSON} on {DATE} about home blood pressure readings. Callback number "
        "{PHONE_NUMBER}, chart MRN {MEDICAL_RECORD}.",
        "{PERSON} disputes a charge of $84.10 on card {CREDIT_CARD} made on {DATE}; reply to {EMAIL_ADDRESS}.",
        "Maintenance log: mechanic {PERSON} signed off the hydraulic pump swap on {DATE}. The avionics box at "
        "{IP_ADDRESS} logged the fault code.",
        "Please mail the W-2 for {PERSON}, SSN {US_SSN}, to {ADDRESS}.",
        "Visit {DATE}: {PERSON} (dob {DOB_PLAIN}) reports knee pain after running; next visit {DATE2}.",
        "How did Apple and Samsung compete in the smartphone market after 2010?",
        "Summarize the history of the Golden Gate Bridge in San Francisco.",
    ],
    "en_GB": [
        "Dear {PERSON}, your appointment at the clinic is confirmed for {DATE}. Ring {PHONE_NUMBER} to rearrange. "
        "Hospital No: {MEDICAL_RECORD}.",
        "Boiler fault reported by {PERSON} at {ADDRESS}; engineer visit on {DATE}. Contact {EMAIL_ADDRESS}.",
        "Salary for {PERSON} is to be paid into {IBAN} from {DATE}.",
        "The school office wrote to {PERSON} about a pupil born {DOB_PLAIN}; reply to {EMAIL_ADDRESS}.",
        "Is Manchester or Birmingham larger, and which has the older university?",
    ],
    "pt_BR": [
        "Teleconsulta: {PERSON} relatou febre desde {DATE}. Celular {PHONE_NUMBER}, prontuário {MEDICAL_RECORD}.",
        "Conta de luz em atraso: cliente {PERSON}, CPF {BR_CPF}, endereço {ADDRESS}.",
        "Manutenção da aeronave concluída em {DATE} pelo mecânico {PERSON}; relatório enviado para {EMAIL_ADDRESS}.",
        "O boleto da empresa {BR_CNPJ} vence em {DATE}; dúvidas com {PERSON} pelo {PHONE_NUMBER}.",
        "Meu filho {PERSON} nasceu em {DOB_PLAIN} e precisa tomar a vacina da gripe.",
        "Quem foi Santos Dumont e o que ele inventou?",
        "Qual é a distância entre Curitiba e Florianópolis de carro?",
    ],
}


# -- the field corpus: written 2026-12-04, after the blind corpus's misses were read, before any
# detector ran on it (see pii_corpus.field_corpus). Never tune a detector on these templates. ----

FIELD_TEMPLATES: dict[str, list[str]] = {
    "en_US": [
        "Vet reminder: {PERSON}'s dog is due for a rabies booster on {DATE}. Owner phone {PHONE_NUMBER}.",
        "hey this is {PERSON}, my card {CREDIT_CARD} got declined at the rental counter, call me at {PHONE_NUMBER}",
        "Loan application from {PERSON}, SSN {US_SSN}, born {DOB_PLAIN}, currently living at {ADDRESS}, {CITY}.",
        "Dental recall: {PERSON} missed the cleaning on {DATE}; chart #{MEDICAL_RECORD}. Email {EMAIL_ADDRESS}.",
        "Docket {CASE_NUMBER}: the hearing for {PERSON} moved from {DATE} to {DATE2}; counsel {PERSON2} was notified.",
        "Truck 14's telematics unit ({IP_ADDRESS}) stopped reporting near {CITY}; {PERSON} radioed in on {DATE}.",
        "Our office will be closed on {NONPERSONAL_DATE} for the holiday.",
        "What are the main differences between Python and Rust for embedded work?",
        "Explain how Tesla's Autopilot differs from the approach Waymo takes.",
        "Which national parks are near Denver, Colorado?",
    ],
    "en_GB": [
        "Hotel booking for {PERSON}, arriving {DATE}, departing {DATE2}. Guest mobile {PHONE_NUMBER}, email "
        "{EMAIL_ADDRESS}.",
        "Council tax query: {PERSON} of {ADDRESS}, {CITY}, asks why the direct debit from {IBAN} failed.",
        "NHS 111 call: {PERSON}, date of birth {DOB_PLAIN}, NHS number {MEDICAL_RECORD}, advised to attend A&E.",
        "Parcel for {PERSON} held at customs since {DATE}; ref {CASE_NUMBER}. Please phone {PHONE_NUMBER}.",
        "Gym membership cancelled by {PERSON} on {DATE}; the final payment was taken from card {CREDIT_CARD}.",
        "What's the best way to get from Heathrow to King's Cross?",
        "Who designed the Spitfire and when did it first fly?",
    ],
    "pt_BR": [
        "Clínica veterinária: a tutora {PERSON} remarcou a vacina do gato para {DATE}. WhatsApp {PHONE_NUMBER}.",
        "Processo nº {CASE_NUMBER}: a audiência de {PERSON} foi adiada de {DATE} para {DATE2}.",
        "Cadastro de cliente: {PERSON}, CPF {BR_CPF}, nascido em {DOB_PLAIN}, mora na {ADDRESS}, {CITY}.",
        "Reserva do hotel em nome de {PERSON}, check-in {DATE}; pagamento no cartão {CREDIT_CARD}.",
        "falei hoje com {PERSON} sobre o atraso da entrega; o e-mail dele é {EMAIL_ADDRESS}.",
        "Nota fiscal da empresa {BR_CNPJ} emitida em {DATE} para {PERSON}; chave PIX {EMAIL_ADDRESS}.",
        "Qual a diferença entre o Pix e a TED?",
        "Quando o Brasil ganhou a primeira Copa do Mundo e quem era o técnico?",
        "Onde fica o Museu do Ipiranga?",
    ],
}


# -- the intake corpus: written 2026-12-04, after the field corpus's misses were read, before any
# detector ran on it (see pii_corpus.intake_corpus). Never tune a detector on these templates. ----

INTAKE_TEMPLATES: dict[str, list[str]] = {
    "en_US": [
        "Name: {PERSON}\nDOB: {DOB_PLAIN}\nPhone: {PHONE_NUMBER}\nEmail: {EMAIL_ADDRESS}\nReason for visit: chest pain",
        "Lost luggage claim {CASE_NUMBER}: passenger {PERSON} flew in on {DATE}; deliver the bag to {ADDRESS}.",
        "Tenant {PERSON} at {ADDRESS}, {CITY} reported a leak on {DATE}. Landlord asks to call {PHONE_NUMBER}.",
        "Thanks for applying, {PERSON}! We'll email {EMAIL_ADDRESS} after the interview on {DATE}.",
        "ambulance dispatched to {ADDRESS} for {PERSON}, age 74, callback {PHONE_NUMBER}",
        "Return request from {PERSON}: refund {CREDIT_CARD} for order 55-10293 placed {DATE}.",
        "Best regards,\n{PERSON}\nField Service Lead\n{PHONE_NUMBER} | {EMAIL_ADDRESS}",
        "How do I configure a VLAN on a Cisco Catalyst switch?",
        "Who won the Super Bowl in 2015, and where was it played?",
    ],
    "en_GB": [
        "Resident {PERSON} of Room 12 at the care home had a fall on {DATE}; next of kin {PERSON2}, {PHONE_NUMBER}.",
        "Your water bill, account holder {PERSON}, {ADDRESS}, {CITY}. Pay by direct debit from {IBAN}.",
        "University admissions: applicant {PERSON}, born {DOB_PLAIN}, applied on {DATE}; contact {EMAIL_ADDRESS}.",
        "Hi {PERSON}, your broadband engineer visit is booked for {DATE}. Reply STOP to {PHONE_NUMBER} to cancel.",
        "Kind regards,\n{PERSON}\nPractice Manager\nTel {PHONE_NUMBER}",
        "What's the difference between the House of Commons and the House of Lords?",
    ],
    "pt_BR": [
        "Nome: {PERSON}\nCPF: {BR_CPF}\nNascimento: {DOB_PLAIN}\nTelefone: {PHONE_NUMBER}",
        "Aluguel: o inquilino {PERSON} do imóvel na {ADDRESS} pagou o boleto em {DATE}.",
        "Chamado de ambulância para {PERSON} na {ADDRESS}; retorno pelo {PHONE_NUMBER}.",
        "Currículo de {PERSON} recebido em {DATE}; e-mail {EMAIL_ADDRESS}, celular {PHONE_NUMBER}.",
        "Atenciosamente,\n{PERSON}\nCoordenadora de Atendimento\n{EMAIL_ADDRESS}",
        "oi, aqui é {PERSON}, meu cartão {CREDIT_CARD} foi recusado na loja ontem",
        "Qual a diferença entre CLT e PJ para quem trabalha com tecnologia?",
        "Quem pintou o Abaporu e em que ano?",
    ],
}
